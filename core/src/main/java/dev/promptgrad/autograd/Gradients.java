package dev.promptgrad.autograd;

import dev.promptgrad.tensor.Tensor;

import java.util.Map;

/**
 * The result of {@link Tape#backward}: dLoss/dVariable for the variables that asked for one.
 * The tensors live in the tape's workspace until its next reset.
 */
public final class Gradients {
    private final Map<Variable, Tensor> byVariable;

    Gradients(Map<Variable, Tensor> byVariable) {
        this.byVariable = byVariable;
    }

    /** The gradient of {@code v}; a clear error if none flowed to it. */
    public Tensor of(Variable v) {
        Tensor g = byVariable.get(v);
        if (g == null) {
            throw new IllegalArgumentException(v.requiresGrad()
                    ? "no gradient reached " + v + ": the loss does not depend on it"
                    : v + " is a constant; only parameters and what is computed from them get gradients");
        }
        return g;
    }

    public boolean has(Variable v) {
        return byVariable.containsKey(v);
    }
}
