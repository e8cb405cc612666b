package dev.promptgrad.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Relative L2 error between arrays, with a message naming what is compared. Test code only. */
public final class Compare {

    private Compare() {
    }

    /** ‖actual − expected‖ / ‖expected‖ in double. */
    public static double relativeL2(float[] actual, float[] expected) {
        assertEquals(expected.length, actual.length, "lengths differ");
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.length; i++) {
            double d = (double) actual[i] - expected[i];
            diff += d * d;
            norm += (double) expected[i] * expected[i];
        }
        return Math.sqrt(diff / norm);
    }

    /** Fails unless the relative L2 error is at most {@code tolerance} (and the expected values are not all 0). */
    public static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        double norm = 0;
        for (float v : expected) norm += (double) v * v;
        assertTrue(norm > 0, what + ": expected values are all zero, which cannot test anything");
        double error = relativeL2(actual, expected);
        assertTrue(error <= tolerance, what + ": relative L2 error " + error + " exceeds " + tolerance);
    }
}
