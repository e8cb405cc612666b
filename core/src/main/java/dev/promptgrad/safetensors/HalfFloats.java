package dev.promptgrad.safetensors;

/**
 * Conversions between float32 and the two 16-bit float formats checkpoints use, bit for bit as PyTorch does
 * them: IEEE 754 binary16 (F16: 5 exponent bits, subnormals, infinities, NaN) and bfloat16 (BF16: the top half
 * of a float32). Widening is exact; narrowing rounds to nearest, ties to even, overflows to infinity and
 * keeps NaN a NaN (quiet, sign kept). Java 17 has no {@code Float.float16ToFloat}; this is that, and no more.
 */
public final class HalfFloats {

    private HalfFloats() {
    }

    /** The float32 value of F16 bits (exact: every half is a float). */
    public static float f16ToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {  // infinity, or NaN with its payload moved to the top of the float mantissa
            return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
        }
        if (exponent == 0) {     // zero or subnormal: mantissa × 2^-24, exact in float32
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /** The F16 nearest to {@code value}, ties to even; beyond ±65504 (after rounding) it is ±infinity. */
    public static short floatToF16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xFF;
        int mantissa = bits & 0x7FFFFF;
        if (exponent == 0xFF) {  // infinity stays infinity; NaN keeps its top payload bits and is made quiet
            return (short) (sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200 | (mantissa >>> 13)));
        }
        int halfExponent = exponent - 127 + 15;
        if (halfExponent >= 0x1F) return (short) (sign | 0x7C00);
        if (halfExponent >= 1) {
            int half = (halfExponent << 10) | (mantissa >>> 13);
            int rest = mantissa & 0x1FFF;  // the 13 bits that do not fit, against the halfway point 0x1000
            if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) half++;  // a carry may reach infinity: correct
            return (short) (sign | half);
        }
        // subnormal half: value = significand × 2^(exponent - 150) = k × 2^-24, so k = significand >> (126 - exponent)
        int shift = 126 - exponent;  // ≥ 14 here
        if (shift > 24) return (short) sign;  // below half the smallest subnormal (2^-25): rounds to zero
        int significand = mantissa | 0x800000;
        int k = significand >>> shift;
        int rest = significand & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (k & 1) == 1)) k++;  // k may become 0x400: the smallest normal
        return (short) (sign | k);
    }

    /** The float32 value of BF16 bits (exact). */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /** {@code dst[dstFrom + i] = bf16ToFloat(src[srcFrom + i])} for i < n: a run of BF16 words widened. */
    public static void bf16ToFloats(short[] src, int srcFrom, float[] dst, int dstFrom, int n) {
        for (int i = 0; i < n; i++) dst[dstFrom + i] = bf16ToFloat(src[srcFrom + i]);
    }

    /** The BF16 words nearest to {@code values}, each as {@link #floatToBf16} rounds it. */
    public static short[] floatsToBf16(float[] values) {
        short[] words = new short[values.length];
        for (int i = 0; i < values.length; i++) words[i] = floatToBf16(values[i]);
        return words;
    }

    /** The BF16 nearest to {@code value}, ties to even; NaN stays a quiet NaN. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x7FFFFF) != 0) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
