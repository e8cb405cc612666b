package dev.promptgrad.evaluate;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.Arrays;
import java.util.List;

/**
 * The summed negative log-likelihood of each example's labelled tokens under a frozen model, with or without a
 * soft prompt in front (PEFT's PROMPT_TUNING semantics, as in training: position t is scored against the label
 * at t + 1). Runs right-padded mini-batches on a tape of constants; nothing is recorded for a gradient. Owns its
 * workspace; the model and the prompt tensor stay the caller's.
 */
public final class SequenceScorer implements AutoCloseable {
    private final LanguageModel model;
    private final Tensor prompt;   // (P, dim), or null
    private final int padId;
    private final Workspace workspace;
    private final Tape tape;

    /** One example's score: Σ −log p(label) over its scored positions, and how many there were. */
    public record Score(double negativeLogLikelihood, int tokens) {
    }

    /** @param prompt the soft prompt [P, dim], or null; {@code padId} fills the right padding (it is masked) */
    public SequenceScorer(LanguageModel model, Tensor prompt, int padId) {
        if (prompt != null && (prompt.rank() != 2 || prompt.dim(1) != model.dim())) {
            throw new IllegalArgumentException(model.name() + ": a soft prompt must be [P, " + model.dim() + "], not "
                    + prompt);
        }
        this.model = model;
        this.prompt = prompt;
        this.padId = padId;
        this.workspace = new Workspace(model.backend(), "score " + model.name());
        this.tape = new Tape(model.backend(), workspace);
    }

    /** The score of every example, in order, {@code batchSize} examples per forward pass. */
    public Score[] score(List<Example> examples, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        Score[] scores = new Score[examples.size()];
        int promptRows = prompt == null ? 0 : prompt.dim(0);
        for (int from = 0; from < examples.size(); from += batchSize) {
            List<Example> chunk = examples.subList(from, Math.min(examples.size(), from + batchSize));
            TokenBatch batch = RightPadding.batch(chunk, padId);
            tape.reset();
            Variable promptRowsVariable = prompt == null ? null : tape.constant(prompt, "soft prompt");
            Tensor logits = model.logits(tape, batch, promptRowsVariable).value();        // (batch, P + T, vocab)
            int[] targets = batch.nextTokenTargets(promptRows);                             // (batch, P + T)
            int width = promptRows + batch.length();
            for (int b = 0; b < chunk.size(); b++) {
                int[] row = Arrays.copyOfRange(targets, b * width, (b + 1) * width);
                int scored = 0;
                for (int target : row) if (target != Example.IGNORE) scored++;
                // PyTorch: F.cross_entropy(logits[b, :-1], labels[b, 1:], reduction="sum")
                double sum = scored == 0 ? 0 : model.backend().crossEntropy(logits.select(b), row, 0, null);
                scores[from + b] = new Score(sum, scored);
            }
        }
        tape.reset();
        return scores;
    }

    /** Frees the activations; the model and the prompt stay open. */
    @Override
    public void close() {
        workspace.close();
    }
}
