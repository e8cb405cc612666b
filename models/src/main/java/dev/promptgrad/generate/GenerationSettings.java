package dev.promptgrad.generate;

import java.util.Arrays;

/**
 * When generation stops and how each token is chosen.
 *
 * @param maxNewTokens the most tokens to generate (the stop token not counted)
 * @param stopTokens   ids that end generation when chosen (e.g. EOS); they are not part of the output
 */
public record GenerationSettings(int maxNewTokens, SamplingSettings sampling, int[] stopTokens) {

    public GenerationSettings {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens " + maxNewTokens + " must be at least 1");
        }
        if (sampling == null) {
            throw new IllegalArgumentException("sampling settings are required (SamplingSettings.greedy())");
        }
        stopTokens = stopTokens == null ? new int[0] : stopTokens.clone();
    }

    /** Greedy decoding of up to {@code maxNewTokens}, stopping at any of {@code stopTokens}. */
    public static GenerationSettings greedy(int maxNewTokens, int... stopTokens) {
        return new GenerationSettings(maxNewTokens, SamplingSettings.greedy(), stopTokens);
    }

    @Override
    public int[] stopTokens() {
        return stopTokens.clone();
    }

    public boolean isStopToken(int id) {
        for (int s : stopTokens) if (s == id) return true;
        return false;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof GenerationSettings g && g.maxNewTokens == maxNewTokens && g.sampling.equals(sampling)
                && Arrays.equals(g.stopTokens, stopTokens);
    }

    @Override
    public int hashCode() {
        return (31 * maxNewTokens + sampling.hashCode()) * 31 + Arrays.hashCode(stopTokens);
    }

    @Override
    public String toString() {
        return "GenerationSettings[maxNewTokens=" + maxNewTokens + ", sampling=" + sampling + ", stopTokens="
                + Arrays.toString(stopTokens) + "]";
    }
}
