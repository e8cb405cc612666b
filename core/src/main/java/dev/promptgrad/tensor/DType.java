package dev.promptgrad.tensor;

/**
 * The element types a tensor's storage can hold. Every backend runs F32; F64 exists only on the
 * reference backend, so that finite-difference gradient checks can reach 1e-6 relative error.
 * File formats (F16, BF16) are widened to F32 when read; they are not tensor types.
 */
public enum DType {
    F32(4),
    F64(8);

    /** Bytes per element. */
    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }
}
