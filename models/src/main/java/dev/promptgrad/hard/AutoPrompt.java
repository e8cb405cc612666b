package dev.promptgrad.hard;

import dev.promptgrad.data.Example;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * AutoPrompt (Shin et al. 2020): each step picks one random position, ranks the allowed tokens there by the same
 * first-order score as GCG ({@code dL/dE_row · Eᵀ}, lowest first), scores a swap to each of the top candidates with
 * forward passes only, and accepts the best swap only if its loss on the step's examples is below the current
 * prompt's (scored in the same batch). The prompt's loss on a batch therefore never goes up within a step.
 */
public final class AutoPrompt implements HardPromptMethod {

    /** @param candidates tokens tried at the chosen position per step */
    public record Settings(int candidates) {
        public static final Settings DEFAULT = new Settings(64);

        public Settings {
            if (candidates < 1) {
                throw new IllegalArgumentException("autoprompt: candidates per step must be at least 1, got " + candidates);
            }
        }
    }

    private final PromptObjective objective;
    private final VocabularyIndex index;
    private final CandidateFilter filter;
    private final Settings settings;
    private final SplittableRandom random;
    private int[] current;              // (tokens)

    public AutoPrompt(PromptObjective objective, VocabularyIndex index, CandidateFilter filter, int[] initial,
                      Settings settings, long seed) {
        if (initial.length < 1) throw new IllegalArgumentException("autoprompt: a prompt needs at least one token");
        this.objective = objective;
        this.index = index;
        this.filter = filter;
        this.settings = settings;
        this.random = new SplittableRandom(seed);
        this.current = initial.clone();
    }

    @Override
    public String name() {
        return "autoprompt";
    }

    @Override
    public int[] current() {
        return current.clone();
    }

    @Override
    public double step(List<Example> batch) {
        int dim = index.dim();
        int position = random.nextInt(current.length);
        PromptObjective.Gradient gradient = objective.gradient(current, batch);
        if (!Double.isFinite(gradient.loss())) {
            throw new IllegalStateException("autoprompt: the loss is " + gradient.loss() + " at prompt "
                    + Arrays.toString(current));
        }
        float[] row = Arrays.copyOfRange(gradient.dPromptRows(), position * dim, (position + 1) * dim);   // (1, dim)
        int[] top = index.lowest(index.oneHotGradient(row, 1), 0, settings.candidates());
        List<int[]> prompts = new ArrayList<>(top.length + 1);
        prompts.add(current);
        for (int token : top) {
            if (token == current[position]) continue;
            int[] swap = current.clone();
            swap[position] = token;
            if (filter.roundTrips(swap)) prompts.add(swap);
        }
        if (prompts.size() == 1) return gradient.loss();
        double[] losses = objective.losses(prompts, batch);
        int best = 0;
        for (int c = 1; c < losses.length; c++) if (losses[c] < losses[best]) best = c;
        current = prompts.get(best).clone();
        return losses[best];
    }
}
