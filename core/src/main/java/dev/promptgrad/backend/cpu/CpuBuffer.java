package dev.promptgrad.backend.cpu;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * The CPU backend's storage: float32 elements (or bfloat16 weights, as 16-bit words) in native memory that JavaCPP
 * allocated, with a {@link FloatBuffer} (or {@link ShortBuffer}) view for Java loops and the pointer itself for
 * OpenBLAS. Only {@link CpuBackend} creates and frees it; it is not a general-purpose native array.
 */
final class CpuBuffer extends Buffer {
    private final CpuBackend owner;
    private Pointer pointer;           // (length) FloatPointer (F32) or ShortPointer (BF16); null once freed
    private final FloatBuffer floats;  // (length) F32 view of pointer, absolute indexing only (shared by threads); null for BF16
    private final ShortBuffer words;   // (length) BF16 view of pointer, likewise; null for F32

    private CpuBuffer(CpuBackend owner, DType dtype, Pointer pointer, long length, String label) {
        super(dtype, length, label);
        this.owner = owner;
        this.pointer = pointer;
        // JavaCPP reports a one-element buffer for a zero-capacity pointer: give empty tensors an empty view.
        this.floats = dtype != DType.F32 ? null
                : length == 0 ? FloatBuffer.allocate(0) : ((FloatPointer) pointer).asBuffer();
        this.words = dtype != DType.BF16 ? null
                : length == 0 ? ShortBuffer.allocate(0) : ((ShortPointer) pointer).asBuffer();
    }

    static CpuBuffer ofFloats(CpuBackend owner, FloatPointer pointer, long length, String label) {
        return new CpuBuffer(owner, DType.F32, pointer, length, label);
    }

    static CpuBuffer ofBf16(CpuBackend owner, ShortPointer pointer, long length, String label) {
        return new CpuBuffer(owner, DType.BF16, pointer, length, label);
    }

    CpuBackend owner() {
        return owner;
    }

    /** The F32 Java view; index it with absolute get/put so that threads never share a position. */
    FloatBuffer floats() {
        if (floats == null) throw new IllegalStateException(label() + " is " + dtype() + ", not F32");
        return floats;
    }

    /** The BF16 Java view (raw bfloat16 words), indexed like {@link #floats()}. */
    ShortBuffer words() {
        if (words == null) throw new IllegalStateException(label() + " is " + dtype() + ", not BF16");
        return words;
    }

    /** A new F32 pointer object at element {@code offset}: positioned views for OpenBLAS, safe to use concurrently. */
    FloatPointer pointerAt(long offset) {
        if (floats == null) throw new IllegalStateException(label() + " is " + dtype() + ", not F32");
        return ((FloatPointer) pointer).getPointer(offset);
    }

    /** A pointer to element {@code offset} of either dtype, for byte copies. */
    Pointer elementAt(long offset) {
        return floats != null ? ((FloatPointer) pointer).getPointer(offset) : ((ShortPointer) pointer).getPointer(offset);
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
