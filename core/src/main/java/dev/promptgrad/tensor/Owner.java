package dev.promptgrad.tensor;

import dev.promptgrad.backend.Backend;

import java.util.ArrayList;
import java.util.List;

/**
 * Something that owns buffers and frees them, all at once, when it closes: {@link Weights} (a model's
 * frozen tensors), {@link Workspace} (one step's activations, reused every step) or {@link Scope}
 * (anything else). Memory is never left to the garbage collector; a closed owner refuses new work.
 */
public abstract class Owner implements AutoCloseable {
    protected final Backend backend;
    private final String label;
    private final List<Buffer> buffers = new ArrayList<>();
    private long bytes;
    private boolean closed;

    protected Owner(Backend backend, String label) {
        this.backend = backend;
        this.label = label;
    }

    public Backend backend() {
        return backend;
    }

    public String label() {
        return label;
    }

    /** Bytes of storage this owner currently holds. */
    public synchronized long bytes() {
        return bytes;
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Allocates a buffer that lives until this owner closes (or, in subclasses, is recycled). */
    protected synchronized Buffer allocateBuffer(DType dtype, long elements) {
        checkOpen();
        Buffer b = backend.allocate(dtype, elements, label);
        buffers.add(b);
        bytes += b.bytes();
        return b;
    }

    /** Frees one buffer early (a workspace does this when it coalesces its chunks). */
    protected synchronized void releaseBuffer(Buffer b) {
        if (buffers.remove(b)) {
            bytes -= b.bytes();
            backend.release(b);
        }
    }

    protected final void checkOpen() {
        if (closed) throw new IllegalStateException(label + " is closed; it cannot allocate or hand out tensors");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Buffer b : buffers) backend.release(b);
        buffers.clear();
        bytes = 0;
    }
}
