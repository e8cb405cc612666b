package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;

/**
 * Splits the last dimension of x [..., parts · width] into {@code parts} tensors [..., width], such as
 * GPT-2's fused q, k, v projection. Composed, not a kernel: a {@link Reshape} to [rows, parts, width], one
 * {@link Permute} to [parts, rows, width], then a {@link Select} per part; backward follows from theirs
 * (docs/autograd.md#select).
 */
public final class Split {

    private Split() {
    }

    /** x.split(width, dim=-1) with width = x.size(-1) / parts. */
    public static Variable[] apply(Tape tape, Variable x, int parts) {
        int last = x.value().dim(-1);
        if (parts < 1 || last % parts != 0) {
            throw new IllegalArgumentException("split: the last dimension of " + x + " (" + last
                    + ") does not divide into " + parts + " equal parts");
        }
        int width = last / parts;
        int rows = x.value().rows();
        int[] partShape = x.shape();
        partShape[partShape.length - 1] = width;
        // PyTorch: q, k, v = x.split(width, dim=-1)
        Variable grouped = Reshape.apply(tape, x, rows, parts, width);
        Variable byPart = Permute.apply(tape, grouped, 1, 0, 2);   // (parts, rows, width)
        Variable[] result = new Variable[parts];
        for (int p = 0; p < parts; p++) {
            result[p] = Reshape.apply(tape, Select.apply(tape, byPart, p), partShape);
        }
        return result;
    }
}
