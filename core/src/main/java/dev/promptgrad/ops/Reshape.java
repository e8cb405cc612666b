package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * The same elements under another shape: a view, no copy, no kernel. Backward passes dOut through,
 * viewed in the input's shape (the tape does the viewing). Reordering axes is {@link Permute}.
 * Derivation: docs/autograd.md#reshape.
 */
public final class Reshape implements Function {

    private static final Reshape INSTANCE = new Reshape();

    private Reshape() {
    }

    /** y = x.view(shape); one dimension may be -1. */
    public static Variable apply(Tape tape, Variable x, int... shape) {
        // PyTorch: y = x.view(*shape)
        return tape.record(INSTANCE, x.value().view(shape), x);
    }

    @Override
    public String name() {
        return "reshape";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = dy, the same elements
        grads.pass(0, dOut);
    }
}
