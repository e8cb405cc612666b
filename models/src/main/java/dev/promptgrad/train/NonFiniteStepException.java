package dev.promptgrad.train;

/**
 * A training step whose loss, gradient norm or update was NaN or infinite, thrown by {@link TrainingStep#run}
 * before anything changed: the prompt and the optimizer's moments are as they were before the step. The
 * trainer skips such a step or stops the run (TrainingConfig's {@code onNonFinite}); it is not a bug.
 */
public final class NonFiniteStepException extends IllegalStateException {
    private final String reason;

    public NonFiniteStepException(String reason) {
        super(reason + "; the prompt and the optimizer state were not changed");
        this.reason = reason;
    }

    /** What was not finite, e.g. "the loss is NaN", as metrics.jsonl's {@code skipped} records it. */
    public String reason() {
        return reason;
    }
}
