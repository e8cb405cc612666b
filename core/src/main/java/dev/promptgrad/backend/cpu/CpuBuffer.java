package dev.promptgrad.backend.cpu;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import org.bytedeco.javacpp.FloatPointer;

import java.nio.FloatBuffer;

/**
 * The CPU backend's storage: float32 elements in native memory that JavaCPP allocated, with a
 * {@link FloatBuffer} view for Java loops and the {@link FloatPointer} itself for OpenBLAS. Only
 * {@link CpuBackend} creates and frees it; it is not a general-purpose native array.
 */
final class CpuBuffer extends Buffer {
    private final CpuBackend owner;
    private FloatPointer pointer;      // (length) native floats; null once freed
    private final FloatBuffer floats;  // (length) view of pointer, absolute indexing only (shared by threads)

    CpuBuffer(CpuBackend owner, FloatPointer pointer, long length, String label) {
        super(DType.F32, length, label);
        this.owner = owner;
        this.pointer = pointer;
        // JavaCPP reports a one-element buffer for a zero-capacity pointer: give empty tensors an empty view.
        this.floats = length == 0 ? FloatBuffer.allocate(0) : pointer.asBuffer();
    }

    CpuBackend owner() {
        return owner;
    }

    /** The Java view; index it with absolute get/put so that threads never share a position. */
    FloatBuffer floats() {
        return floats;
    }

    /** A new pointer object at element {@code offset}: positioned views for OpenBLAS, safe to use concurrently. */
    FloatPointer pointerAt(long offset) {
        return pointer.getPointer(offset);
    }

    /** Marks the buffer released and frees its native memory; false if it was released before. */
    synchronized boolean free() {
        if (isReleased()) return false;
        markReleased();
        pointer.deallocate();
        pointer = null;
        return true;
    }
}
