package dev.promptgrad.hard;

import dev.promptgrad.data.Example;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * GCG, Greedy Coordinate Gradient (Zou et al. 2023): top-k tokens per position by the one-hot gradient
 * ({@link VocabularyIndex#oneHotGradient}), a batch of single-token swaps spread evenly over the positions, all
 * scored with forward passes only ({@link PromptObjective#losses}), and a move to the best swap even when it is
 * worse than the current prompt (their Algorithm 1). Swaps whose text does not round-trip are dropped first.
 */
public final class Gcg implements HardPromptMethod {

    /**
     * @param topK       candidate tokens per position (256 in the paper)
     * @param candidates single-token swaps scored per step (512 in the paper)
     */
    public record Settings(int topK, int candidates) {
        public static final Settings PAPER = new Settings(256, 512);

        public Settings {
            if (topK < 1) throw new IllegalArgumentException("gcg: top-k must be at least 1, got " + topK);
            if (candidates < 1) throw new IllegalArgumentException("gcg: the batch of swaps must be at least 1, got " + candidates);
        }
    }

    private final PromptObjective objective;
    private final VocabularyIndex index;
    private final CandidateFilter filter;
    private final Settings settings;
    private final SplittableRandom random;
    private int[] current;              // (tokens)

    public Gcg(PromptObjective objective, VocabularyIndex index, CandidateFilter filter, int[] initial, Settings settings,
               long seed) {
        if (initial.length < 1) throw new IllegalArgumentException("gcg: a prompt needs at least one token");
        this.objective = objective;
        this.index = index;
        this.filter = filter;
        this.settings = settings;
        this.random = new SplittableRandom(seed);
        this.current = initial.clone();
    }

    @Override
    public String name() {
        return "gcg";
    }

    @Override
    public int[] current() {
        return current.clone();
    }

    @Override
    public double step(List<Example> batch) {
        int n = current.length;
        PromptObjective.Gradient gradient = objective.gradient(current, batch);
        if (!Double.isFinite(gradient.loss())) {
            throw new IllegalStateException("gcg: the loss is " + gradient.loss() + " at prompt " + Arrays.toString(current));
        }
        float[] scores = index.oneHotGradient(gradient.dPromptRows(), n);                     // (n, vocab)
        int[][] top = new int[n][];                                                            // (n, ≤ topK)
        List<int[]> swaps = new ArrayList<>(settings.candidates());
        for (int b = 0; b < settings.candidates(); b++) {
            // PyTorch (GCG sample_control): new_token_pos = torch.arange(0, n, n / batch_size).type(torch.int64)
            int position = (int) ((long) b * n / settings.candidates());
            if (top[position] == null) top[position] = index.lowest(scores, position, settings.topK());
            if (top[position].length == 0) continue;
            // new_token_val = top_indices[new_token_pos].gather(1, torch.randint(0, topk, (batch_size, 1)))
            int[] swap = current.clone();
            swap[position] = top[position][random.nextInt(top[position].length)];
            if (filter.roundTrips(swap)) swaps.add(swap);
        }
        if (swaps.isEmpty()) return gradient.loss();
        double[] losses = objective.losses(swaps, batch);
        int best = 0;
        for (int c = 1; c < losses.length; c++) if (losses[c] < losses[best]) best = c;
        if (!Double.isFinite(losses[best])) {
            throw new IllegalStateException("gcg: every swap's loss is " + losses[best]);
        }
        current = swaps.get(best);
        return losses[best];
    }
}
