package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Picks rows of x [..., dim] (flattened to [rows, dim]) by index, each at most once: y [n, dim] with
 * {@code y[i] = x[index[i]]}. A loss uses it to run the head only at the positions it scores. Backward zeroes dx and
 * copies dy's rows back to where they came from, one copy per run of consecutive indices. It is not an embedding
 * lookup (ids may repeat there; see {@link Embedding}). Derivation: docs/autograd.md#gather-rows.
 */
public final class GatherRows implements Function {

    private final Tape tape;
    private final int[] index;   // (n), distinct rows of x

    private GatherRows(Tape tape, int[] index) {
        this.tape = tape;
        this.index = index;
    }

    /** y = x.view(-1, dim)[index]; the indices must be distinct rows of x. */
    public static Variable apply(Tape tape, Variable x, int[] index) {
        Tensor xv = x.value();
        int dim = xv.dim(-1), rows = xv.rows();
        boolean[] seen = new boolean[rows];
        for (int i : index) {
            if (i < 0 || i >= rows) {
                throw new IndexOutOfBoundsException("gather rows: index " + i + " is outside the " + rows
                        + " rows of " + x);
            }
            if (seen[i]) throw new IllegalArgumentException("gather rows: row " + i + " of " + x + " is picked twice");
            seen[i] = true;
        }
        Tensor y = tape.allocate(index.length, dim);
        // PyTorch: y = x.view(-1, dim)[index]
        tape.backend().gather(xv.view(rows, dim), index, y);
        return tape.record(new GatherRows(tape, index.clone()), y, x);
    }

    @Override
    public String name() {
        return "gather_rows";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        Tensor dx = grads.into(0);
        Tensor flat = dx.view(dx.rows(), dx.dim(-1));
        // (1) dx[index[i]] = dy[i], (2) dx = 0 at every row not picked
        tape.backend().fill(dx, 0);
        for (int start = 0; start < index.length; ) {
            int end = start + 1;
            while (end < index.length && index[end] == index[end - 1] + 1) end++;
            tape.backend().copy(dOut.slice(start, end), flat.slice(index[start], index[start] + end - start));
            start = end;
        }
    }
}
