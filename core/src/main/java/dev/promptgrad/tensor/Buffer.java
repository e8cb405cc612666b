package dev.promptgrad.tensor;

/**
 * One block of storage that a backend allocated: host arrays, native memory or device memory.
 * A buffer belongs to exactly one {@link Owner}; when the owner closes, the backend frees it and
 * any later use fails loudly through {@link #checkLive()}. Backends subclass it; nothing else does.
 */
public abstract class Buffer {
    private final DType dtype;
    private final long length;
    private final String label;
    private volatile boolean released;

    protected Buffer(DType dtype, long length, String label) {
        if (length < 0) throw new IllegalArgumentException("negative buffer length " + length + " for " + label);
        this.dtype = dtype;
        this.length = length;
        this.label = label;
    }

    public final DType dtype() {
        return dtype;
    }

    /** Number of elements. */
    public final long length() {
        return length;
    }

    public final long bytes() {
        return length * dtype.bytes;
    }

    /** Who allocated it and for what, e.g. {@code "workspace 'step'"}; appears in error messages. */
    public final String label() {
        return label;
    }

    public final boolean isReleased() {
        return released;
    }

    /** Throws if this buffer's owner has closed. Every kernel calls it on every tensor it touches. */
    public final void checkLive() {
        if (released) {
            throw new IllegalStateException("tensor storage of " + label
                    + " was used after its owner closed; keep the owner open while its tensors are in use");
        }
    }

    /** Called by the backend exactly once, when it frees the storage. */
    protected final void markReleased() {
        released = true;
    }
}
