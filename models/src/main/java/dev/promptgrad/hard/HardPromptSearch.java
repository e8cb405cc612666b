package dev.promptgrad.hard;

import dev.promptgrad.data.Example;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Runs a {@link HardPromptMethod} for a number of steps and keeps the best prompt seen: each step gets the next
 * examples of a seeded shuffle of the training set, and after each step the method's current prompt is judged by
 * its loss on the held-out examples (or, without any, on the whole training set), each distinct prompt once. At
 * the end it reports the best prompt's training and held-out loss beside the loss without a prompt. It does not
 * print; a {@link Listener} sees every step.
 */
public final class HardPromptSearch {

    /** Mixed into the seed of the example order, so that it differs from the method's own draws. */
    private static final long ORDER_SALT = 0x0DE5L;
    /** Mixed into the seed of a random start. */
    private static final long START_SALT = 0x57A7L;

    /**
     * @param steps           steps to run (0: only judge the start)
     * @param examplesPerStep training examples per step (all of them when there are fewer)
     * @param seed            seeds the order of the examples
     */
    public record Settings(int steps, int examplesPerStep, long seed) {
        public Settings {
            if (steps < 0) throw new IllegalArgumentException("steps must be at least 0, got " + steps);
            if (examplesPerStep < 1) {
                throw new IllegalArgumentException("examples per step must be at least 1, got " + examplesPerStep);
            }
        }
    }

    /**
     * What one step did.
     *
     * @param loss       the loss the step measured on its examples ({@link HardPromptMethod#step})
     * @param ids        the method's prompt after the step
     * @param judgedLoss that prompt's held-out loss (training loss without held-out examples)
     * @param best       whether it is the best so far
     */
    public record Progress(int step, int steps, double loss, int[] ids, double judgedLoss, boolean best) {
    }

    /** Sees every step of a search. */
    @FunctionalInterface
    public interface Listener {
        void stepped(Progress progress);
    }

    private HardPromptSearch() {
    }

    /** {@code tokens} allowed token ids drawn uniformly (with replacement) by {@code seed}: the default start. */
    public static int[] randomStart(CandidateFilter filter, int tokens, long seed) {
        if (tokens < 1) throw new IllegalArgumentException("a hard prompt needs at least 1 token, got " + tokens);
        int[] allowed = new int[filter.count()];
        for (int id = 0, n = 0; id < filter.vocabSize(); id++) if (filter.allows(id)) allowed[n++] = id;
        SplittableRandom random = new SplittableRandom(seed ^ START_SALT);
        int[] ids = new int[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = allowed[random.nextInt(allowed.length)];
        return ids;
    }

    /**
     * Runs {@code method} on {@code train}, judging on {@code eval} (may be empty) through {@code objective}.
     *
     * @param listener null, or sees each step
     */
    public static HardPromptResult run(HardPromptMethod method, PromptObjective objective, List<Example> train,
                                       List<Example> eval, Settings settings, Listener listener) {
        if (train.isEmpty()) throw new IllegalArgumentException("a hard-prompt search needs at least one training example");
        List<Example> judgeSet = eval.isEmpty() ? train : eval;
        Map<List<Integer>, Double> judged = new HashMap<>();
        int[] best = method.current();
        double bestLoss = judge(objective, best, judgeSet, judged);
        int bestStep = 0;
        ExampleOrder order = new ExampleOrder(train.size(), settings.examplesPerStep(), settings.seed() ^ ORDER_SALT);
        for (int step = 1; step <= settings.steps(); step++) {
            List<Example> batch = new ArrayList<>();
            for (int i : order.next()) batch.add(train.get(i));
            double loss = method.step(batch);
            int[] ids = method.current();
            double judgedLoss = judge(objective, ids, judgeSet, judged);
            boolean better = judgedLoss < bestLoss;
            if (better) {
                best = ids;
                bestLoss = judgedLoss;
                bestStep = step;
            }
            if (listener != null) listener.stepped(new Progress(step, settings.steps(), loss, ids, judgedLoss, better));
        }
        double trainLoss = eval.isEmpty() ? bestLoss : objective.loss(best, train);
        double evalLoss = eval.isEmpty() ? Double.NaN : bestLoss;
        double baselineTrain = objective.loss(new int[0], train);
        double baselineEval = eval.isEmpty() ? Double.NaN : objective.loss(new int[0], eval);
        return new HardPromptResult(method.name(), best, bestStep, settings.steps(), trainLoss, evalLoss, baselineTrain,
                baselineEval);
    }

    private static double judge(PromptObjective objective, int[] ids, List<Example> examples,
                                Map<List<Integer>, Double> judged) {
        List<Integer> key = Arrays.stream(ids).boxed().toList();
        Double known = judged.get(key);
        if (known != null) return known;
        double loss = objective.loss(ids, examples);
        judged.put(key, loss);
        return loss;
    }

    /** Consecutive slices of seeded shuffles of the example indices, reshuffled at the end of each pass. */
    private static final class ExampleOrder {
        private final int size;
        private final int perStep;
        private final SplittableRandom random;
        private int[] order;
        private int cursor;

        ExampleOrder(int size, int perStep, long seed) {
            this.size = size;
            this.perStep = Math.min(perStep, size);
            this.random = new SplittableRandom(seed);
            this.order = shuffled();
        }

        int[] next() {
            int[] out = new int[perStep];
            for (int i = 0; i < perStep; i++) {
                if (cursor == size) {
                    order = shuffled();
                    cursor = 0;
                }
                out[i] = order[cursor++];
            }
            return out;
        }

        /** A Fisher–Yates shuffle of 0 … size − 1 (the identity when every example goes in every step). */
        private int[] shuffled() {
            int[] out = new int[size];
            for (int i = 0; i < size; i++) out[i] = i;
            if (perStep == size) return out;
            for (int i = size - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = out[i];
                out[i] = out[j];
                out[j] = t;
            }
            return out;
        }
    }
}
