package dev.promptgrad.autograd;

import dev.promptgrad.tensor.Tensor;

/**
 * Sees, during one {@link Tape#backward}, the complete gradient dLoss/dOutput of each recorded op's output just
 * before that op's backward runs: for teaching and tracing (how much gradient reaches the prompt through each
 * frozen layer), never needed for training. The tensor is valid only during the call (backward may overwrite it
 * afterwards); download or copy what you keep. It observes only.
 */
@FunctionalInterface
public interface GradientObserver {

    /** {@code dOutput} has {@code output}'s shape and holds every contribution to its gradient. */
    void gradient(Variable output, Tensor dOutput);
}
