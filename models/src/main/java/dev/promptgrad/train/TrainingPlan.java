package dev.promptgrad.train;

import dev.promptgrad.optim.LearningRateSchedule;

/**
 * A {@link TrainingConfig}'s numbers resolved against the size of the training data: how many examples one
 * optimizer step takes, how many steps make an epoch and the run, and when to evaluate and save. A step takes
 * {@code batch × gradAccum} examples from an endless sequence of shuffled epochs (see {@link EpochShuffle}),
 * so a step may straddle two epochs; {@code --epochs E} means {@code ceil(E · examples / examplesPerStep)} steps.
 *
 * @param examplesPerStep batch × grad-accum
 * @param stepsPerEpoch   ceil(training examples / examplesPerStep)
 * @param totalSteps      the optimizer steps of the whole run
 * @param evalEvery       steps between evaluations (the last step is always evaluated when there is eval data)
 * @param saveEvery       steps between checkpoints (the last step always saves one)
 */
public record TrainingPlan(int trainExamples, int examplesPerStep, int stepsPerEpoch, int totalSteps, int evalEvery,
                           int saveEvery, LearningRateSchedule schedule) {

    public static TrainingPlan of(TrainingConfig config, int trainExamples) {
        if (trainExamples < 1) throw new IllegalArgumentException("training needs at least one example");
        int perStep = Math.multiplyExact(config.batch(), config.gradAccum());
        int stepsPerEpoch = ceilDivide(trainExamples, perStep);
        int total = config.steps() > 0 ? config.steps()
                : Math.toIntExact(ceilDivide(Math.multiplyExact((long) config.epochs(), trainExamples), perStep));
        int evalEvery = config.evalEvery() > 0 ? config.evalEvery() : stepsPerEpoch;
        int saveEvery = config.saveEvery() > 0 ? config.saveEvery() : evalEvery;
        if (config.warmup() > total) {
            throw new IllegalArgumentException("--warmup " + config.warmup() + " is longer than the run's " + total
                    + " steps");
        }
        return new TrainingPlan(trainExamples, perStep, stepsPerEpoch, total, evalEvery, saveEvery,
                config.learningRateSchedule(total));
    }

    /** The epoch (from 0, fractional) reached after {@code steps} steps. */
    public double epochAfter(int steps) {
        return (double) steps * examplesPerStep / trainExamples;
    }

    private static int ceilDivide(long a, long b) {
        return Math.toIntExact((a + b - 1) / b);
    }
}
