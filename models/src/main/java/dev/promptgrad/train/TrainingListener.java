package dev.promptgrad.train;

import java.nio.file.Path;

/**
 * What a {@link PromptTrainer} tells its caller while it runs: the plan, each step, each evaluation and each
 * checkpoint. The command line draws a progress bar from these; tests read the prompt after each step. Every
 * method has an empty default; they run on the training thread, between steps.
 */
public interface TrainingListener {

    /** Tells nothing. */
    TrainingListener NONE = new TrainingListener() { };

    /**
     * One optimizer step's numbers.
     *
     * @param step            steps done, this one included (1 for the first)
     * @param epoch           passes over the training data done, fractional
     * @param loss            the step's training loss, before its update
     * @param lr              the rate it used
     * @param gradNorm        the gradient's norm before clipping
     * @param tokensPerSecond real tokens forward and backward per second of this step
     * @param seconds         wall-clock seconds since the run (or its resumption) started
     * @param prompt          the prompt after the step, (P, dim) row-major; a copy
     */
    record StepReport(int step, int totalSteps, double epoch, double loss, double lr, double gradNorm,
                      double tokensPerSecond, double seconds, float[] prompt) {
    }

    /** Before the first step; {@code fromStep} is 0, or the checkpoint's step when resuming. */
    default void started(TrainingPlan plan, int fromStep, String dataDescription) {
    }

    default void stepDone(StepReport report) {
    }

    /** After an evaluation at {@code step} (0: the starting prompt); {@code best} if it is the lowest so far. */
    default void evaluated(int step, double evalLoss, boolean best) {
    }

    default void checkpointSaved(int step, Path folder) {
    }

    /** Something the user should know that is not a failure, e.g. that a resumed folder's adapter was stale. */
    default void note(String message) {
    }

    /**
     * Something that went wrong without stopping the run, e.g. a step skipped because its loss was NaN (its
     * {@link #stepDone} report follows, with NaN loss and gradient norm).
     */
    default void warning(String message) {
    }
}
