package dev.promptgrad.optim;

import java.util.List;
import java.util.Map;

/**
 * A first-order optimizer over host {@code float[]} parameters: the caller downloads the gradient from the
 * backend, calls {@link #step}, and uploads the new values. The learning rate is the caller's (a
 * {@link LearningRateSchedule} gives one per step). The whole state is named float arrays plus the step
 * count, so a run can be saved and resumed bit for bit. Not thread-safe; one instance per training run.
 */
public sealed interface Optimizer permits Adam, Adafactor {

    /** "adamw", "adam" or "adafactor": the name written beside a saved state. */
    String name();

    /** The trainable tensors, in the order {@link #step} takes their values and gradients. */
    List<Parameter> parameters();

    /**
     * One update, in place: {@code params.get(i)} moves against {@code grads.get(i)} with learning rate
     * {@code lr}, which may be 0 (the first step of a warm-up) but not negative or non-finite. The gradients
     * are read, never changed. Throws {@link IllegalArgumentException} if the lists or lengths do not match
     * {@link #parameters()}.
     */
    void step(List<float[]> params, List<float[]> grads, double lr);

    /** {@link #step(List, List, double)} for an optimizer over exactly one parameter (the usual prompt). */
    default void step(float[] params, float[] grads, double lr) {
        if (parameters().size() != 1) {
            throw new IllegalArgumentException(name() + " optimizes " + parameters().size() + " parameters "
                    + parameters() + "; pass one float[] per parameter to step(List, List, lr)");
        }
        step(List.of(params), List.of(grads), lr);
    }

    /** Steps taken so far (torch's {@code state["step"]}); the next step is {@code steps() + 1}. */
    int steps();

    /**
     * A copy of the state, keyed {@code "<parameter>.<slot>"} with torch's slot names (e.g.
     * {@code "prompt_embeddings.exp_avg_sq"}), in a stable order. Save it with {@link #steps()}.
     */
    Map<String, float[]> state();

    /**
     * Replaces the state with a copy of one saved by {@link #state()} after {@code steps} steps, so the next
     * step continues exactly where the saved run stopped. Throws {@link IllegalArgumentException} naming the
     * key if a slot is missing, unknown or of the wrong length.
     */
    void restore(int steps, Map<String, float[]> state);
}
