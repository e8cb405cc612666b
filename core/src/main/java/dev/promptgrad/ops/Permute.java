package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

import java.util.Arrays;

/**
 * Reorders the axes of x (rank ≤ 5) into a new contiguous tensor: output axis i is input axis perm[i],
 * e.g. {0, 2, 1, 3} turns [batch, T, heads, headSize] into [batch, heads, T, headSize]. Backward is the
 * inverse permutation of dOut; nothing is saved. Derivation: docs/autograd.md#permute.
 */
public final class Permute implements Function {

    private final Tape tape;
    private final int[] inverse;  // (rank): input axis j is gradient axis inverse[j]

    private Permute(Tape tape, int[] inverse) {
        this.tape = tape;
        this.inverse = inverse;
    }

    /** y = x.permute(perm), materialised. */
    public static Variable apply(Tape tape, Variable x, int... perm) {
        int rank = x.value().rank();
        int[] inverse = inverseOf(perm, x);
        int[] shape = new int[rank];
        for (int i = 0; i < rank; i++) shape[i] = x.value().dim(perm[i]);
        Tensor y = tape.allocate(shape);
        // PyTorch: y = x.permute(*perm).contiguous()
        tape.backend().permute(x.value(), perm.clone(), y);
        return tape.record(new Permute(tape, inverse), y, x);
    }

    /** The permutation undoing {@code perm}; a clear error when perm is not a permutation of x's axes. */
    private static int[] inverseOf(int[] perm, Variable x) {
        int rank = x.value().rank();
        int[] inverse = new int[rank];
        Arrays.fill(inverse, -1);
        boolean valid = perm.length == rank;
        for (int i = 0; valid && i < rank; i++) {
            valid = perm[i] >= 0 && perm[i] < rank && inverse[perm[i]] < 0;
            if (valid) inverse[perm[i]] = i;
        }
        if (!valid) {
            throw new IllegalArgumentException("permute: " + Arrays.toString(perm) + " is not a permutation of the "
                    + rank + " axes of " + x);
        }
        return inverse;
    }

    @Override
    public String name() {
        return "permute";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = dy.permute(inverse)
        tape.backend().permute(dOut, inverse, grads.into(0));
    }
}
