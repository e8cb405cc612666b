package dev.promptgrad.safetensors;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * F16 and BF16 conversions: every 16-bit pattern widened against the format's definition, narrowing against
 * a brute-force nearest-value search, ties at every midpoint, and a few values numpy 2.4 converts
 * ({@code np.float32(v).astype(np.float16)}).
 */
class HalfFloatsTest {

    /** The F16 definition: (-1)^s × 2^(e-15) × 1.m, or 2^-14 × 0.m for e = 0. */
    private static double f16Definition(int h) {
        int sign = (h >>> 15) == 1 ? -1 : 1;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) return mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        if (exponent == 0) return sign * Math.scalb(mantissa / 1024.0, -14);
        return sign * Math.scalb(1 + mantissa / 1024.0, exponent - 15);
    }

    @Test
    void widensEveryF16Exactly() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.f16ToFloat((short) h);
            double expected = f16Definition(h);
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(f), "0x" + Integer.toHexString(h));
                assertEquals((h & 0x3FF) << 13, Float.floatToRawIntBits(f) & 0x7FFFFF, "NaN payload is kept");
            } else {
                assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(f),
                        "0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void narrowingInvertsWideningForEveryF16() {
        for (int h = 0; h < 0x10000; h++) {
            float f = HalfFloats.f16ToFloat((short) h);
            int back = HalfFloats.floatToF16(f) & 0xFFFF;
            if (Float.isNaN(f)) {
                assertTrue((back & 0x7C00) == 0x7C00 && (back & 0x3FF) != 0 && (back & 0x8000) == (h & 0x8000),
                        "NaN stays NaN with its sign: 0x" + Integer.toHexString(h));
            } else {
                assertEquals(h, back, "0x" + Integer.toHexString(h));
            }
        }
    }

    @Test
    void narrowingRoundsToNearestEvenAtEveryF16Midpoint() {
        for (int h = 0; h < 0x7BFF; h++) {  // positive finite halves and their upper neighbours
            float low = HalfFloats.f16ToFloat((short) h);
            float high = HalfFloats.f16ToFloat((short) (h + 1));
            float mid = (low + high) / 2;  // exact: halves have 11 significant bits, floats 24
            int even = (h & 1) == 0 ? h : h + 1;
            assertEquals(even, HalfFloats.floatToF16(mid), "midpoint above 0x" + Integer.toHexString(h));
            assertEquals(h, HalfFloats.floatToF16(Math.nextDown(mid)));
            assertEquals(h + 1, HalfFloats.floatToF16(Math.nextUp(mid)));
            assertEquals(0x8000 | even, HalfFloats.floatToF16(-mid) & 0xFFFF, "negative mirror");
        }
    }

    @Test
    void narrowingRandomFloatsGivesTheNearestF16() {
        SplittableRandom random = new SplittableRandom(3);  // floats in [2^-27, 2^15): subnormal to finite range
        for (int i = 0; i < 20_000; i++) {
            float f = Float.intBitsToFloat((random.nextInt(100, 142) << 23) | random.nextInt(1 << 23));
            int h = HalfFloats.floatToF16(f) & 0xFFFF;
            double error = Math.abs(f16Definition(h) - f);
            if (h < 0x7BFF) assertTrue(error <= Math.abs(f16Definition(h + 1) - f), () -> f + " -> " + h);
            if (h > 0) assertTrue(error <= Math.abs(f16Definition(h - 1) - f), () -> f + " -> " + h);
        }
    }

    @Test
    void f16EdgeCasesAndNumpyValues() {
        assertEquals(0x2E66, HalfFloats.floatToF16(0.1f));
        assertEquals(0x3555, HalfFloats.floatToF16(1f / 3));
        assertEquals((short) 0xC100, HalfFloats.floatToF16(-2.5f));
        assertEquals(0x7BFF, HalfFloats.floatToF16(65504f));
        assertEquals(0x7BFF, HalfFloats.floatToF16(65519f));
        assertEquals(0x7C00, HalfFloats.floatToF16(65520f), "the midpoint to 65536 rounds (to even) to infinity");
        assertEquals(0x7C00, HalfFloats.floatToF16(100000f));
        assertEquals((short) 0xFC00, HalfFloats.floatToF16(Float.NEGATIVE_INFINITY));
        assertEquals(0x0002, HalfFloats.floatToF16(1e-7f));
        assertEquals(0x0001, HalfFloats.floatToF16(6e-8f));
        assertEquals(0x0001, HalfFloats.floatToF16(3e-8f));
        assertEquals(0x0000, HalfFloats.floatToF16(0x1p-25f), "half the smallest subnormal ties to zero");
        assertEquals(0x0001, HalfFloats.floatToF16(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x8000, HalfFloats.floatToF16(-1e-30f));
        assertEquals(0x0000, HalfFloats.floatToF16(Float.MIN_VALUE));
        assertEquals(0x0400, HalfFloats.floatToF16(Math.nextDown(0x1p-14f)), "rounds up into the normal range");
        assertEquals(0x1p-24f, HalfFloats.f16ToFloat((short) 1));
        assertEquals(-0.0f, HalfFloats.f16ToFloat((short) 0x8000));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(HalfFloats.f16ToFloat((short) 0x8000)));
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.NaN))));
        assertTrue(Float.isNaN(HalfFloats.f16ToFloat(HalfFloats.floatToF16(Float.intBitsToFloat(0x7F800001)))),
                "a NaN whose payload is only in the low bits stays NaN");
    }

    @Test
    void bf16WidensByShiftingAndNarrowsToNearestEven() {
        for (int b = 0; b < 0x10000; b++) {
            float f = HalfFloats.bf16ToFloat((short) b);
            assertEquals(b << 16, Float.floatToRawIntBits(f));
            int back = HalfFloats.floatToBf16(f) & 0xFFFF;
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfFloats.bf16ToFloat((short) back)) && (back & 0x8000) == (b & 0x8000));
            } else {
                assertEquals(b, back);
            }
        }
        for (int b = 0; b < 0x7F7F; b++) {  // midpoints between positive neighbours
            int midBits = (b << 16) | 0x8000;
            int even = (b & 1) == 0 ? b : b + 1;
            assertEquals(even, HalfFloats.floatToBf16(Float.intBitsToFloat(midBits)));
            assertEquals(b, HalfFloats.floatToBf16(Float.intBitsToFloat(midBits - 1)));
            assertEquals(b + 1, HalfFloats.floatToBf16(Float.intBitsToFloat(midBits + 1)));
        }
        assertEquals(0x3DCD, HalfFloats.floatToBf16(0.1f));
        assertEquals(0x7F80, HalfFloats.floatToBf16(Float.MAX_VALUE), "rounds up to infinity");
        assertEquals((short) 0xFF80, HalfFloats.floatToBf16(-Float.MAX_VALUE));
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x7F800001)))));
    }

    @Test
    void bf16ArraysConvertAsSingleValuesDo() {
        short[] every = new short[0x10000];
        for (int w = 0; w < every.length; w++) every[w] = (short) w;
        float[] wide = new float[every.length + 3];
        HalfFloats.bf16ToFloats(every, 0, wide, 3, every.length);
        for (int w = 0; w < every.length; w++) {
            assertEquals(Float.floatToRawIntBits(HalfFloats.bf16ToFloat(every[w])), Float.floatToRawIntBits(wide[w + 3]),
                    "word " + Integer.toHexString(w));
        }
        float[] values = {0.1f, -2.5f, 1f + 0x1p-8f, Float.NaN, Float.NEGATIVE_INFINITY, 3e38f, -0f};
        short[] narrow = HalfFloats.floatsToBf16(values);
        for (int i = 0; i < values.length; i++) {
            assertEquals(HalfFloats.floatToBf16(values[i]), narrow[i], "value " + values[i]);
        }
    }
}
