package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * The residual connection: {@code y = a + b} for two tensors of the same shape. Backward copies nothing:
 * both inputs receive dOut itself, and the tape sums it with the gradient arriving along the other branch.
 * A bias (a vector broadcast over rows) is {@link BiasAdd}. Derivation: docs/autograd.md#add.
 */
public final class Add implements Function {

    private static final Add INSTANCE = new Add();

    private Add() {
    }

    /** y = a + b, same shapes. */
    public static Variable apply(Tape tape, Variable a, Variable b) {
        if (!a.value().sameShape(b.value())) {
            throw new IllegalArgumentException("add: " + a + " and " + b + " must have the same shape");
        }
        Tensor y = tape.allocate(a.shape());
        // PyTorch: y = a + b
        tape.backend().add(a.value(), b.value(), y);
        return tape.record(INSTANCE, y, a, b);
    }

    @Override
    public String name() {
        return "add";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) da = dy
        if (grads.needs(0)) grads.pass(0, dOut);
        // (2) db = dy
        if (grads.needs(1)) grads.pass(1, dOut);
    }
}
