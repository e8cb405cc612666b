package dev.promptgrad.generate;

/**
 * How the next token is chosen from the logits, in Hugging Face's order: repetition penalty, then (unless
 * greedy) temperature, top-k, top-p, and a draw from the remaining distribution with a seeded generator.
 *
 * @param temperature       0 for greedy (argmax, lowest id on ties); otherwise logits are divided by it
 * @param topK              keep the k most likely tokens (ties with the k-th kept too); 0 keeps all
 * @param topP              keep the most likely tokens whose probabilities sum to at least p; 1 keeps all
 * @param repetitionPenalty HF's RepetitionPenaltyLogitsProcessor: a logit of a token already in the
 *                          sequence is divided by it when positive, multiplied when negative; 1 is off
 * @param seed              seeds the generator: the same seed gives the same tokens
 */
public record SamplingSettings(double temperature, int topK, double topP, double repetitionPenalty, long seed) {

    public SamplingSettings {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature " + temperature
                    + " must be 0 (greedy) or a positive number");
        }
        if (topK < 0) throw new IllegalArgumentException("top-k " + topK + " must be 0 (off) or positive");
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p " + topP + " must be in (0, 1]; 1 is off");
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition penalty " + repetitionPenalty
                    + " must be positive; 1 is off");
        }
    }

    /** Argmax every step. */
    public static SamplingSettings greedy() {
        return new SamplingSettings(0, 0, 1, 1, 0);
    }

    /** Plain sampling at {@code temperature} with {@code seed}, no top-k, top-p or penalty. */
    public static SamplingSettings sample(double temperature, long seed) {
        return new SamplingSettings(temperature, 0, 1, 1, seed);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }

    public SamplingSettings withTopK(int k) {
        return new SamplingSettings(temperature, k, topP, repetitionPenalty, seed);
    }

    public SamplingSettings withTopP(double p) {
        return new SamplingSettings(temperature, topK, p, repetitionPenalty, seed);
    }

    public SamplingSettings withRepetitionPenalty(double penalty) {
        return new SamplingSettings(temperature, topK, topP, penalty, seed);
    }

    public SamplingSettings withSeed(long newSeed) {
        return new SamplingSettings(temperature, topK, topP, repetitionPenalty, newSeed);
    }
}
