package dev.promptgrad.safetensors;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The element types a safetensors header may name, with their size in bits, as listed by the format's
 * reference implementation (huggingface/safetensors, {@code Dtype}). All of them can be indexed and validated;
 * only F32, F16 and BF16 can be read as float32, and only the integer types (and BOOL) as longs. These are
 * file types, not tensor types: see {@link dev.promptgrad.tensor.DType} for what a tensor holds.
 */
public enum SafetensorsDType {
    BOOL(8),
    /** FP4 (E2M1), two per byte. */
    F4(4),
    F6_E2M3(6),
    F6_E3M2(6),
    U8(8),
    I8(8),
    F8_E5M2(8),
    F8_E4M3(8),
    F8_E8M0(8),
    I16(16),
    U16(16),
    F16(16),
    BF16(16),
    I32(32),
    U32(32),
    F32(32),
    /** Complex: two float32 values. */
    C64(64),
    F64(64),
    I64(64),
    U64(64);

    /** Bits per element. */
    public final int bits;

    SafetensorsDType(int bits) {
        this.bits = bits;
    }

    /** Whether {@link TensorSource#readFloats} accepts it: F32 as is, F16 and BF16 widened exactly. */
    public boolean readableAsFloat32() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** Whether {@link TensorSource#readLongs} accepts it: signed and unsigned integers and BOOL. */
    public boolean readableAsLong() {
        switch (this) {
            case BOOL: case U8: case I8: case I16: case U16: case I32: case U32: case I64: case U64:
                return true;
            default:
                return false;
        }
    }

    /** The type with this header name, or null if there is none. */
    public static SafetensorsDType byName(String name) {
        for (SafetensorsDType type : values()) {
            if (type.name().equals(name)) return type;
        }
        return null;
    }

    /** All header names, comma-separated, for messages. */
    static String allNames() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
