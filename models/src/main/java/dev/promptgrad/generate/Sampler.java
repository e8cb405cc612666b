package dev.promptgrad.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses the next token from one row of logits as {@link SamplingSettings} say, reproducing Hugging Face's
 * logits processors (RepetitionPenalty, Temperature, TopK, TopP) and then a draw by inverse CDF from a
 * {@link SplittableRandom}. Stateful only in its random generator: one sampler per generated sequence.
 * Works on host arrays in double precision; it never sees a tensor.
 */
public final class Sampler {
    private final SamplingSettings settings;
    private final SplittableRandom random;

    public Sampler(SamplingSettings settings) {
        this.settings = settings;
        this.random = new SplittableRandom(settings.seed());
    }

    public SamplingSettings settings() {
        return settings;
    }

    /**
     * The next token for {@code logits} (vocab) after the sequence {@code history} (prompt and generated
     * ids; the repetition penalty applies to each distinct id in it).
     */
    public int next(float[] logits, int[] history) {
        double[] scores = new double[logits.length];
        for (int i = 0; i < scores.length; i++) scores[i] = logits[i];
        if (settings.repetitionPenalty() != 1) penalise(scores, history, settings.repetitionPenalty());
        if (settings.isGreedy()) return argmax(scores);
        for (int i = 0; i < scores.length; i++) scores[i] /= settings.temperature();
        if (settings.topK() > 0 && settings.topK() < scores.length) keepTopK(scores, settings.topK());
        double[] probs = softmax(scores);
        if (settings.topP() < 1) keepTopP(probs, settings.topP());
        return draw(probs);
    }

    /** The index of the largest value; the lowest index on ties. */
    public static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /** HF: score = torch.where(score < 0, score * penalty, score / penalty) for each id in input_ids. */
    private static void penalise(double[] scores, int[] history, double penalty) {
        boolean[] seen = new boolean[scores.length];
        for (int id : history) {
            if (id < 0 || id >= scores.length) {
                throw new IllegalArgumentException("token id " + id + " in the sequence is outside the vocabulary of "
                        + scores.length);
            }
            if (seen[id]) continue;
            seen[id] = true;
            scores[id] = scores[id] < 0 ? scores[id] * penalty : scores[id] / penalty;
        }
    }

    /** HF: indices_to_remove = scores < torch.topk(scores, top_k)[0][..., -1, None]. */
    private static void keepTopK(double[] scores, int k) {
        double[] sorted = scores.clone();
        Arrays.sort(sorted);
        double threshold = sorted[sorted.length - k];
        for (int i = 0; i < scores.length; i++) if (scores[i] < threshold) scores[i] = Double.NEGATIVE_INFINITY;
    }

    /**
     * HF: over probabilities sorted ascending, remove those whose cumulative sum is ≤ 1 − top_p, always
     * keeping the most likely one. Equal probabilities are ordered by id, the higher id counted as less likely.
     */
    private static void keepTopP(double[] probs, double topP) {
        Integer[] order = new Integer[probs.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> probs[a] != probs[b] ? Double.compare(probs[a], probs[b]) : Integer.compare(b, a));
        double cumulative = 0;
        for (int r = 0; r < order.length - 1; r++) {
            cumulative += probs[order[r]];
            if (cumulative <= 1 - topP) probs[order[r]] = 0;
        }
    }

    private static double[] softmax(double[] scores) {
        double max = Double.NEGATIVE_INFINITY;
        for (double s : scores) max = Math.max(max, s);
        double[] probs = new double[scores.length];
        double sum = 0;
        for (int i = 0; i < scores.length; i++) {
            probs[i] = scores[i] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(scores[i] - max);
            sum += probs[i];
        }
        for (int i = 0; i < probs.length; i++) probs[i] /= sum;
        return probs;
    }

    /** Inverse CDF over ids in increasing order, of the (possibly unnormalised) probabilities. */
    private int draw(double[] probs) {
        double total = 0;
        for (double p : probs) total += p;
        double u = random.nextDouble() * total;
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] == 0) continue;
            cumulative += probs[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last;
    }
}
