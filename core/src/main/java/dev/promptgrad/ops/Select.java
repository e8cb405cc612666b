package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Entry {@code index} of x's first dimension, that dimension dropped: a view, no copy. Backward writes
 * dOut into that entry of a zeroed tensor shaped like x; the tape sums the entries when several are
 * selected (as {@link Split} does). Derivation: docs/autograd.md#select.
 */
public final class Select implements Function {

    private final Tape tape;
    private final int index;

    private Select(Tape tape, int index) {
        this.tape = tape;
        this.index = index;
    }

    /** y = x[index]. */
    public static Variable apply(Tape tape, Variable x, int index) {
        if (x.value().rank() == 0 || index < 0 || index >= x.value().dim(0)) {
            throw new IndexOutOfBoundsException("select: index " + index + " is outside the first dimension of " + x);
        }
        // PyTorch: y = x[index]
        return tape.record(new Select(tape, index), x.value().select(index), x);
    }

    @Override
    public String name() {
        return "select";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx[index] = dy, dx[i] = 0 for every other i
        Tensor dx = grads.into(0);
        tape.backend().fill(dx, 0);
        tape.backend().copy(dOut, dx.select(index));
    }
}
