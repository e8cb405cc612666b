package dev.promptgrad.tensor;

/**
 * The element types a tensor's storage can hold. Every backend computes in F32; F64 exists only on the
 * reference backend, so that finite-difference gradient checks can reach 1e-6 relative error. BF16 is a
 * storage type for frozen weights, not an arithmetic one: a backend that supports it accepts a BF16 tensor as
 * one operand of a matrix product and as an embedding table (widening each element exactly to float32, so the
 * arithmetic stays float32), and in upload, download and copy; every other kernel refuses it. F16 is a file
 * format only, widened to F32 when read.
 */
public enum DType {
    F32(4),
    F64(8),
    BF16(2);

    /** Bytes per element. */
    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Whether kernels compute in this type (F32, F64), as opposed to only storing it (BF16). */
    public boolean isArithmetic() {
        return this != BF16;
    }
}
