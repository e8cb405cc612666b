package dev.promptgrad.generate;

import dev.promptgrad.model.LanguageModel;

/**
 * Feeds one sequence to a model a few tokens at a time and returns the logits for the token that follows,
 * with an optional soft prompt in front of the first token. Inference only: nothing is recorded for a
 * gradient. {@link CachedDecoder} runs only the new tokens; {@link RecomputingDecoder} reruns the whole
 * sequence every time, to check the cache.
 */
public interface Decoder extends AutoCloseable {

    LanguageModel model();

    /**
     * Appends {@code tokens} to the sequence and returns the logits (vocab) after its last position. The first
     * call may pass no tokens when there is a soft prompt: the logits then follow the prompt's last row.
     */
    float[] feed(int... tokens);

    /** Positions fed so far, soft prompt rows included. */
    int length();

    /** The most positions the sequence may reach. */
    int capacity();

    /** Frees the decoder's activations and cache; the model stays open. */
    @Override
    void close();
}
