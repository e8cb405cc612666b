package dev.promptgrad.autograd;

import dev.promptgrad.tensor.Tensor;

/**
 * A tensor as the tape sees it: its value and whether a gradient must flow to it. A variable needs a
 * gradient when it is a parameter the caller asked for (the prompt) or was computed from one; frozen
 * weights and token embeddings are constants and never do.
 */
public final class Variable {
    private final Tensor value;
    private final boolean requiresGrad;
    private final String name;
    final int index;   // position on the tape; constants are -1

    Variable(Tensor value, boolean requiresGrad, String name, int index) {
        this.value = value;
        this.requiresGrad = requiresGrad;
        this.name = name;
        this.index = index;
    }

    public Tensor value() {
        return value;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    public String name() {
        return name;
    }

    public int[] shape() {
        return value.shape();
    }

    @Override
    public String toString() {
        return name + value.toString().substring("Tensor".length()) + (requiresGrad ? " (grad)" : "");
    }
}
