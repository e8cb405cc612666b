package dev.promptgrad.generate;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.ops.ConcatPrompt;
import dev.promptgrad.tensor.Tensor;

/**
 * The input embeddings of one decoding step, [1, rows, dim]: the soft prompt's rows (on the first step
 * only) followed by the new tokens' embeddings. Everything is a constant on the tape. Shared by the
 * decoders; not part of the API.
 */
final class DecoderInputs {

    private DecoderInputs() {
    }

    /** {@code prompt} [P, dim] or null; {@code tokens} may be empty only when the prompt is not. */
    static Variable embeddings(Tape tape, LanguageModel model, Tensor prompt, int[] tokens) {
        if (tokens.length == 0) {
            if (prompt == null) throw new IllegalArgumentException("feed at least one token (there is no soft prompt)");
            return tape.constant(prompt.view(1, prompt.dim(0), prompt.dim(1)), "soft prompt");
        }
        Variable promptRows = prompt == null ? null : tape.constant(prompt, "soft prompt");
        return model.embed(tape, TokenBatch.of(tokens), promptRows);
    }

    /** The last row of logits [1, T, vocab], downloaded. */
    static float[] lastRow(Tape tape, Variable logits) {
        Tensor rows = logits.value().select(0);                                             // (T, vocab)
        return tape.backend().download(rows.select(rows.dim(0) - 1));
    }

    /** Checks a soft prompt against the model: [P, dim] with P ≥ 1, or null. */
    static void checkPrompt(LanguageModel model, Tensor prompt) {
        if (prompt != null && (prompt.rank() != 2 || prompt.dim(0) < 1 || prompt.dim(1) != model.dim())) {
            throw new IllegalArgumentException(model.name() + ": a soft prompt must be [P, " + model.dim()
                    + "] with P ≥ 1, not " + prompt);
        }
    }
}
