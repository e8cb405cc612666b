package dev.promptgrad.hard;

import java.util.Arrays;

/**
 * The outcome of a {@link HardPromptSearch}: the best prompt's ids and when it was found, its mean loss on the
 * training and held-out examples, and the same losses without any prompt. Held-out losses are NaN when there
 * were no held-out examples (the best prompt was then judged on the training set).
 *
 * @param bestStep the step after which the best prompt stood (0: the start)
 */
public record HardPromptResult(String method, int[] ids, int bestStep, int steps, double trainLoss, double evalLoss,
                               double baselineTrainLoss, double baselineEvalLoss) {

    public HardPromptResult {
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    public boolean hasEval() {
        return !Double.isNaN(evalLoss);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof HardPromptResult that && method.equals(that.method) && Arrays.equals(ids, that.ids)
                && bestStep == that.bestStep && steps == that.steps
                && Double.compare(trainLoss, that.trainLoss) == 0 && Double.compare(evalLoss, that.evalLoss) == 0
                && Double.compare(baselineTrainLoss, that.baselineTrainLoss) == 0
                && Double.compare(baselineEvalLoss, that.baselineEvalLoss) == 0;
    }

    @Override
    public int hashCode() {
        return 31 * method.hashCode() + Arrays.hashCode(ids);
    }

    @Override
    public String toString() {
        return method + " " + Arrays.toString(ids) + " (step " + bestStep + " of " + steps + "): train " + trainLoss
                + ", held-out " + evalLoss + "; without a prompt: train " + baselineTrainLoss + ", held-out "
                + baselineEvalLoss;
    }
}
