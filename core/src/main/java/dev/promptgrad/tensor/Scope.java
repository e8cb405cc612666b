package dev.promptgrad.tensor;

import dev.promptgrad.backend.Backend;

/**
 * The plainest owner: every tensor allocated here lives until {@link #close()}.
 * Use it for short-lived work in tests and tools; a training step uses a {@link Workspace} instead.
 */
public final class Scope extends Owner {

    public Scope(Backend backend, String name) {
        super(backend, "scope '" + name + "'");
    }

    public Tensor allocate(DType dtype, int... shape) {
        return new Tensor(allocateBuffer(dtype, Tensor.sizeOf(shape)), 0, shape);
    }

    public Tensor allocate(int... shape) {
        return allocate(DType.F32, shape);
    }

    /** Allocates and uploads {@code values}, which must match the shape's size. */
    public Tensor of(float[] values, int... shape) {
        Tensor t = allocate(DType.F32, shape);
        backend.upload(values, t);
        return t;
    }

    /** Allocates a tensor of {@code dtype} and uploads {@code values} into it (F64 only on the reference backend). */
    public Tensor of(DType dtype, double[] values, int... shape) {
        Tensor t = allocate(dtype, shape);
        backend.upload(values, t);
        return t;
    }
}
