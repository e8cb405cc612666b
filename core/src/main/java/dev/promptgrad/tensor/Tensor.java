package dev.promptgrad.tensor;

import java.util.Arrays;

/**
 * A view: a shape over a contiguous, row-major run of elements in one {@link Buffer}.
 * Tensors own nothing and are never closed; the buffer's {@link Owner} decides their lifetime.
 * Reshaping and slicing along the first dimension make new views without copying.
 */
public final class Tensor {
    private final Buffer buffer;
    private final long offset;   // first element, in elements from the buffer start
    private final int[] shape;   // row-major; rank 0 is a scalar
    private final long size;     // product of shape

    public Tensor(Buffer buffer, long offset, int... shape) {
        this.buffer = buffer;
        this.offset = offset;
        this.shape = shape.clone();
        this.size = sizeOf(this.shape);
        if (offset < 0 || offset + size > buffer.length()) {
            throw new IllegalArgumentException("view " + Arrays.toString(shape) + " at offset " + offset
                    + " does not fit in " + buffer.length() + " elements of " + buffer.label());
        }
    }

    /** Product of the dimensions, checked for overflow and negative sizes. */
    public static long sizeOf(int... shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, (long) d);
        }
        return n;
    }

    public Buffer buffer() {
        return buffer;
    }

    public long offset() {
        return offset;
    }

    public DType dtype() {
        return buffer.dtype();
    }

    public long size() {
        return size;
    }

    public int rank() {
        return shape.length;
    }

    /** Dimension {@code i}; negative counts from the end ({@code dim(-1)} is the last). */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int[] shape() {
        return shape.clone();
    }

    /** Size divided by the last dimension: the number of rows a row-wise kernel walks. */
    public int rows() {
        return shape.length == 0 ? 1 : Math.toIntExact(size / Math.max(1, shape[shape.length - 1]));
    }

    /** The same elements under another shape; one dimension may be -1 and is inferred. */
    public Tensor view(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("more than one -1 in view " + Arrays.toString(newShape));
                infer = i;
            } else {
                known = Math.multiplyExact(known, (long) s[i]);
            }
        }
        if (infer >= 0) {
            if (known == 0 || size % known != 0) {
                throw new IllegalArgumentException("cannot view " + this + " as " + Arrays.toString(newShape));
            }
            s[infer] = Math.toIntExact(size / known);
        }
        if (sizeOf(s) != size) {
            throw new IllegalArgumentException("cannot view " + this + " as " + Arrays.toString(newShape)
                    + ": sizes " + size + " and " + sizeOf(s) + " differ");
        }
        return new Tensor(buffer, offset, s);
    }

    /** Rows {@code from} (inclusive) to {@code to} (exclusive) of the first dimension. */
    public Tensor slice(int from, int to) {
        if (shape.length == 0) throw new IllegalArgumentException("cannot slice a scalar");
        if (from < 0 || to > shape[0] || from > to) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + this);
        }
        long stride = size / Math.max(1, shape[0]);
        int[] s = shape.clone();
        s[0] = to - from;
        return new Tensor(buffer, offset + from * stride, s);
    }

    /** Row {@code i} of the first dimension, with that dimension dropped. */
    public Tensor select(int i) {
        Tensor one = slice(i, i + 1);
        return new Tensor(buffer, one.offset, Arrays.copyOfRange(shape, 1, shape.length));
    }

    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    /** True when both views cover exactly the same elements of the same buffer. */
    public boolean sameStorage(Tensor other) {
        return buffer == other.buffer && offset == other.offset && size == other.size;
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype() + " of " + buffer.label();
    }
}
