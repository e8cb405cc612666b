package dev.promptgrad.generate;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sampler on hand-made logits: greedy ties, Hugging Face's repetition penalty, top-k (ties kept),
 * top-p's cumulative cut, the temperature's effect on frequencies, and seeding.
 */
class SamplerTest {

    private static final int[] NONE = {};

    @Test
    void greedyTakesTheLowestIdOnTies() {
        Sampler greedy = new Sampler(SamplingSettings.greedy());
        assertEquals(1, greedy.next(new float[] {1, 3, 3, 2}, NONE));
        assertEquals(0, greedy.next(new float[] {-1, -1, -1}, NONE));
        assertEquals(2, Sampler.argmax(new float[] {0, 1, 7, 7}));
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        Sampler penalised = new Sampler(SamplingSettings.greedy().withRepetitionPenalty(2));
        // 2 / 2 = 1 < 1.9: the repeated token loses
        assertEquals(1, penalised.next(new float[] {2, 1.9f, 0}, new int[] {0, 0}));
        // -1 · 2 = -2 < -1.5
        assertEquals(1, penalised.next(new float[] {-1, -1.5f, -3}, new int[] {0}));
        // not in the history: no change
        assertEquals(0, penalised.next(new float[] {2, 1.9f, 0}, new int[] {2}));
        assertThrows(IllegalArgumentException.class, () -> penalised.next(new float[] {1, 2}, new int[] {5}));
    }

    @Test
    void topKKeepsTiesWithTheKthLogit() {
        float[] logits = {5, 1, 5, 0, 4.9f};
        int[] counts = counts(SamplingSettings.sample(10, 3).withTopK(1), logits, 2000);
        assertEquals(0, counts[1] + counts[3] + counts[4], "only the two tied maxima survive top-1");
        assertTrue(counts[0] > 800 && counts[2] > 800, "both tied maxima are drawn: " + counts[0] + ", " + counts[2]);
    }

    @Test
    void topPCutsTheLeastLikelyTail() {
        // probabilities 0.5, 0.3, 0.15, 0.05: cumulative from the least likely 0.05, 0.2, 0.5, 1
        float[] logits = logOf(0.5, 0.3, 0.15, 0.05);
        int[] counts = counts(SamplingSettings.sample(1, 5).withTopP(0.7), logits, 20000);
        assertEquals(0, counts[2] + counts[3], "0.05 and 0.2 are ≤ 1 − 0.7: those tokens are removed");
        assertEquals(0.5 / 0.8, counts[0] / 20000.0, 0.015, "the rest renormalised");
        int[] wider = counts(SamplingSettings.sample(1, 5).withTopP(0.9), logits, 20000);
        assertEquals(0, wider[3]);
        assertTrue(wider[2] > 0, "0.2 > 0.1: the third token stays");
        int[] single = counts(SamplingSettings.sample(1, 5).withTopP(0.01), logits, 200);
        assertEquals(200, single[0], "the most likely token is always kept");
    }

    @Test
    void temperatureSharpensOrFlattens() {
        float[] logits = logOf(0.2, 0.8);
        assertEquals(0.8, counts(SamplingSettings.sample(1, 9), logits, 40000)[1] / 40000.0, 0.01);
        // T = 0.5 squares the odds: 0.64 / (0.64 + 0.04)
        assertEquals(0.64 / 0.68, counts(SamplingSettings.sample(0.5, 9), logits, 40000)[1] / 40000.0, 0.01);
        // T = 100 is nearly uniform
        assertEquals(0.5, counts(SamplingSettings.sample(100, 9), logits, 40000)[1] / 40000.0, 0.02);
    }

    @Test
    void theSameSeedDrawsTheSameTokens() {
        float[] logits = logOf(0.1, 0.2, 0.3, 0.4);
        assertArrayEquals(draws(SamplingSettings.sample(1, 77), logits), draws(SamplingSettings.sample(1, 77), logits));
        assertTrue(!java.util.Arrays.equals(draws(SamplingSettings.sample(1, 77), logits),
                draws(SamplingSettings.sample(1, 78), logits)));
    }

    @Test
    void settingsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingSettings(-1, 0, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingSettings(1, -2, 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingSettings(1, 0, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingSettings(1, 0, 1.5, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new SamplingSettings(1, 0, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> GenerationSettings.greedy(0));
        assertTrue(GenerationSettings.greedy(5, 2, 3).isStopToken(3));
    }

    private static int[] counts(SamplingSettings settings, float[] logits, int n) {
        Sampler sampler = new Sampler(settings);
        int[] counts = new int[logits.length];
        for (int i = 0; i < n; i++) counts[sampler.next(logits, NONE)]++;
        return counts;
    }

    private static int[] draws(SamplingSettings settings, float[] logits) {
        Sampler sampler = new Sampler(settings);
        int[] out = new int[32];
        for (int i = 0; i < out.length; i++) out[i] = sampler.next(logits, NONE);
        return out;
    }

    private static float[] logOf(double... probs) {
        float[] out = new float[probs.length];
        for (int i = 0; i < probs.length; i++) out[i] = (float) Math.log(probs[i]);
        return out;
    }
}
