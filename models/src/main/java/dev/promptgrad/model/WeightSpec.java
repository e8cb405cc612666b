package dev.promptgrad.model;

import java.util.Arrays;

/**
 * The name and shape one architecture expects for one frozen tensor, e.g. {@code model.norm.weight} (64).
 * Checkpoint readers load by these specs and the models check them again; it holds no values.
 */
public record WeightSpec(String name, int[] shape) {

    public WeightSpec {
        shape = shape.clone();
    }

    public static WeightSpec of(String name, int... shape) {
        return new WeightSpec(name, shape);
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public long size() {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof WeightSpec w && w.name.equals(name) && Arrays.equals(w.shape, shape);
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + Arrays.toString(shape);
    }
}
