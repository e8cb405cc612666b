package dev.promptgrad.optim;

import java.util.Arrays;

/**
 * The name and shape of one trainable tensor as an optimizer sees it (e.g. {@code prompt_embeddings},
 * [20, 768]). It holds no values: those live in the caller's row-major {@code float[]}, downloaded from the
 * backend before a step and uploaded after it. The name prefixes the optimizer's state keys.
 */
public record Parameter(String name, int[] shape) {

    public Parameter {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a trainable parameter needs a non-blank name, got '" + name + "'");
        }
        if (shape == null) throw new IllegalArgumentException("parameter '" + name + "' has no shape");
        shape = shape.clone();
        long size = 1;
        for (int d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException("parameter '" + name + "' has shape " + Arrays.toString(shape)
                        + "; every dimension must be positive");
            }
            size *= d;
        }
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("parameter '" + name + "' has shape " + Arrays.toString(shape)
                    + " with " + size + " elements, more than one float[] holds");
        }
    }

    public static Parameter of(String name, int... shape) {
        return new Parameter(name, shape);
    }

    /** A copy of the shape. */
    @Override
    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}; negative counts from the end. */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /** Number of elements: the length of the float[] that holds the values and of the gradient. */
    public int size() {
        int size = 1;
        for (int d : shape) size *= d;
        return size;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Parameter p && p.name.equals(name) && Arrays.equals(p.shape, shape);
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
