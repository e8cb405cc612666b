package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Adds a bias row to every row of x: {@code y = x + b} with x [..., n] and b [n] (the bias of a Linear).
 * dx is dOut itself, passed through without a copy; db (a sum over rows) is computed only when the bias
 * needs a gradient, which a frozen model's never does. Derivation: docs/autograd.md#bias-add.
 */
public final class BiasAdd implements Function {

    private final Tape tape;

    private BiasAdd(Tape tape) {
        this.tape = tape;
    }

    /** y = x + b, b broadcast over all rows of x. */
    public static Variable apply(Tape tape, Variable x, Variable bias) {
        Tensor b = bias.value();
        if (b.rank() != 1 || b.dim(0) != x.value().dim(-1)) {
            throw new IllegalArgumentException("bias add: bias " + bias + " must be a vector of the last dimension of "
                    + x + " (" + x.value().dim(-1) + ")");
        }
        Tensor y = tape.allocate(x.shape());
        // PyTorch: y = x + b
        tape.backend().add(x.value(), b, y);
        return tape.record(new BiasAdd(tape), y, x, bias);
    }

    /** Convenience for the common case of a frozen bias tensor. */
    public static Variable apply(Tape tape, Variable x, Tensor frozenBias) {
        return apply(tape, x, tape.constant(frozenBias, "bias"));
    }

    @Override
    public String name() {
        return "bias_add";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = dy
        if (grads.needs(0)) grads.pass(0, dOut);
        // (2) db = Σ_rows dy; only for a trainable bias
        if (grads.needs(1)) tape.backend().sumRows(dOut, grads.into(1), false);
    }
}
