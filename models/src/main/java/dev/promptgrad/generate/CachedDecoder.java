package dev.promptgrad.generate;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.model.KvCache;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

/**
 * Incremental decoding with a {@link KvCache}: each {@link #feed} runs the model only on its new rows, which
 * attend to every cached position. The ops are the training ops, on a tape of constants that records
 * nothing. Owns its workspace and cache; the model and the soft prompt tensor stay the caller's. One decoder serves
 * one thread; several threads generate on one model with a decoder each.
 */
public final class CachedDecoder implements Decoder {
    private final LanguageModel model;
    private final Tensor prompt;          // (P, dim), or null
    private final Workspace workspace;
    private final Tape tape;
    private final KvCache cache;

    /**
     * @param prompt   the soft prompt [P, dim] to put before the first token, or null
     * @param capacity the most positions (prompt rows included) this sequence may reach; at most the
     *                 model's context length
     */
    public CachedDecoder(LanguageModel model, Tensor prompt, int capacity) {
        DecoderInputs.checkPrompt(model, prompt);
        this.model = model;
        this.prompt = prompt;
        this.cache = model.newKvCache(1, capacity);
        this.workspace = new Workspace(model.backend(), "decode " + model.name());
        this.tape = new Tape(model.backend(), workspace);
    }

    /** A decoder that can run up to the model's context length. */
    public CachedDecoder(LanguageModel model, Tensor prompt) {
        this(model, prompt, model.contextLength());
    }

    @Override
    public LanguageModel model() {
        return model;
    }

    @Override
    public float[] feed(int... tokens) {
        tape.reset();
        boolean first = cache.length() == 0;
        if (!first && tokens.length == 0) {
            throw new IllegalArgumentException("feed at least one token after the first step");
        }
        Variable x = DecoderInputs.embeddings(tape, model, first ? prompt : null, tokens);     // (1, rows, dim)
        Variable logits = model.forward(tape, x, null, cache, null);                          // (1, rows, vocab)
        return DecoderInputs.lastRow(tape, logits);
    }

    @Override
    public int length() {
        return cache.length();
    }

    @Override
    public int capacity() {
        return cache.capacity();
    }

    @Override
    public void close() {
        workspace.close();
        cache.close();
    }
}
