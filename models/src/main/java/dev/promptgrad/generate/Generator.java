package dev.promptgrad.generate;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * The generation loop: feed the prompt ids, then repeatedly choose a token with a {@link Sampler} and feed
 * it back, until a stop token, the token limit or the decoder's capacity. The decoder decides how
 * (with a cache or by recomputing) and carries the soft prompt; this class holds no state between calls.
 *
 * <pre>{@code
 * try (Decoder decoder = new CachedDecoder(model, softPromptOrNull)) {
 *     Generation g = Generator.generate(decoder, new int[] {1}, GenerationSettings.greedy(64, 2), id -> {});
 * }
 * }</pre>
 */
public final class Generator {

    private Generator() {
    }

    /**
     * Generates after {@code promptIds} (may be empty when the decoder has a soft prompt) on a fresh decoder.
     *
     * @param onToken sees each generated token as soon as it is chosen (stop tokens excluded); may be null
     */
    public static Generation generate(Decoder decoder, int[] promptIds, GenerationSettings settings,
                                      IntConsumer onToken) {
        if (decoder.length() != 0) {
            throw new IllegalArgumentException("generate needs a fresh decoder; this one has " + decoder.length()
                    + " positions already");
        }
        int capacity = decoder.capacity();
        Sampler sampler = new Sampler(settings.sampling());
        int[] history = Arrays.copyOf(promptIds, promptIds.length + settings.maxNewTokens());
        int length = promptIds.length;
        float[] logits = decoder.feed(promptIds);
        while (true) {
            int next = sampler.next(logits, Arrays.copyOf(history, length));
            if (settings.isStopToken(next)) {
                return new Generation(generated(history, promptIds.length, length), Generation.Reason.STOP_TOKEN, next);
            }
            history[length++] = next;
            if (onToken != null) onToken.accept(next);
            if (length - promptIds.length == settings.maxNewTokens()) {
                return new Generation(generated(history, promptIds.length, length), Generation.Reason.MAX_TOKENS, -1);
            }
            if (decoder.length() >= capacity) {
                return new Generation(generated(history, promptIds.length, length), Generation.Reason.CONTEXT_FULL, -1);
            }
            logits = decoder.feed(next);
        }
    }

    private static int[] generated(int[] history, int from, int to) {
        return Arrays.copyOfRange(history, from, to);
    }
}
