package dev.promptgrad.generate;

import java.util.Arrays;

/**
 * The tokens one generation produced (the prompt and any stop token excluded) and why it ended.
 *
 * @param stopToken the stop token that ended it, or -1
 */
public record Generation(int[] tokens, Reason reason, int stopToken) {

    /** Why generation ended. */
    public enum Reason {
        /** A stop token was chosen. */
        STOP_TOKEN,
        /** {@link GenerationSettings#maxNewTokens()} were generated. */
        MAX_TOKENS,
        /** The sequence reached the decoder's capacity (the model's context length). */
        CONTEXT_FULL
    }

    public Generation {
        tokens = tokens.clone();
    }

    @Override
    public int[] tokens() {
        return tokens.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Generation g && Arrays.equals(g.tokens, tokens) && g.reason == reason
                && g.stopToken == stopToken;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(tokens) * 31 + reason.hashCode() * 7 + stopToken;
    }

    @Override
    public String toString() {
        return "Generation[" + tokens.length + " tokens " + Arrays.toString(tokens) + ", " + reason
                + (stopToken >= 0 ? " " + stopToken : "") + "]";
    }
}
