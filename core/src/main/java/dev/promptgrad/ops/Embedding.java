package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

import java.util.Arrays;

/**
 * Looks up token ids in a frozen embedding table [vocab, dim]. It has no backward: ids are discrete and
 * the table never learns, so the result is a constant on the tape. A learned prompt enters through
 * {@link ConcatPrompt} instead. Derivation (of why nothing flows): docs/autograd.md#embedding.
 */
public final class Embedding {

    private Embedding() {
    }

    /**
     * Rows {@code table[ids[i]]}, shaped {@code idsShape + [dim]} (e.g. [batch, T, dim] for ids of [batch, T]).
     * Refuses a table that requires a gradient.
     */
    public static Variable apply(Tape tape, Variable table, int[] ids, int... idsShape) {
        if (table.requiresGrad()) {
            throw new IllegalArgumentException("embedding: table " + table + " requires a gradient, but the"
                    + " embedding lookup never computes one; pass the frozen table as a constant and learn a"
                    + " prompt with ConcatPrompt");
        }
        Tensor t = table.value();
        if (t.rank() != 2) throw new IllegalArgumentException("embedding: table " + table + " must be [vocab, dim]");
        if (Tensor.sizeOf(idsShape) != ids.length) {
            throw new IllegalArgumentException("embedding: " + ids.length + " ids do not fill the shape "
                    + Arrays.toString(idsShape));
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= t.dim(0)) {
                throw new IndexOutOfBoundsException("embedding: token id " + ids[i] + " at position " + i
                        + " is outside the vocabulary of " + t.dim(0) + " rows of " + table);
            }
        }
        int[] shape = Arrays.copyOf(idsShape, idsShape.length + 1);
        shape[idsShape.length] = t.dim(1);
        Tensor out = tape.allocate(shape);
        // PyTorch: out = wte(ids)
        tape.backend().gather(t, ids, out.view(ids.length, t.dim(1)));
        return tape.constant(out, "embedding");
    }

    /** Convenience for a table tensor, which is always frozen. */
    public static Variable apply(Tape tape, Tensor table, int[] ids, int... idsShape) {
        return apply(tape, tape.constant(table, "embedding table"), ids, idsShape);
    }
}
