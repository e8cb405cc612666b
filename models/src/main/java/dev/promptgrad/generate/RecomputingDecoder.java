package dev.promptgrad.generate;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.Arrays;

/**
 * Decoding without a cache: every {@link #feed} runs the whole sequence so far (soft prompt, then all tokens)
 * through the model's training pass and keeps the last row. Quadratic in length; it exists to check
 * {@link CachedDecoder} against the plain forward pass. Owns its workspace.
 */
public final class RecomputingDecoder implements Decoder {
    private final LanguageModel model;
    private final Tensor prompt;        // (P, dim), or null
    private final Workspace workspace;
    private final Tape tape;
    private int[] tokens = new int[0];  // every token fed so far
    private boolean fed;

    /** @param prompt the soft prompt [P, dim] to put before the first token, or null */
    public RecomputingDecoder(LanguageModel model, Tensor prompt) {
        DecoderInputs.checkPrompt(model, prompt);
        this.model = model;
        this.prompt = prompt;
        this.workspace = new Workspace(model.backend(), "recompute " + model.name());
        this.tape = new Tape(model.backend(), workspace);
    }

    @Override
    public LanguageModel model() {
        return model;
    }

    @Override
    public float[] feed(int... more) {
        if (fed && more.length == 0) throw new IllegalArgumentException("feed at least one token after the first step");
        int[] all = Arrays.copyOf(tokens, tokens.length + more.length);
        System.arraycopy(more, 0, all, tokens.length, more.length);
        tape.reset();
        Variable x = DecoderInputs.embeddings(tape, model, prompt, all);                     // (1, P + n, dim)
        Variable logits = model.forward(tape, x, null, null, null);                          // (1, P + n, vocab)
        tokens = all;
        fed = true;
        return DecoderInputs.lastRow(tape, logits);
    }

    @Override
    public int length() {
        return fed ? tokens.length + (prompt == null ? 0 : prompt.dim(0)) : 0;
    }

    /** The model's context length. */
    @Override
    public int capacity() {
        return model.contextLength();
    }

    @Override
    public void close() {
        workspace.close();
    }
}
