package dev.promptgrad.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link Erf#erf} against published double-precision values (those of C99's {@code erf}), in each of
 * Cody's three ranges and for negative arguments.
 */
class ErfTest {

    @Test
    void matchesKnownValuesToDoublePrecision() {
        double[][] known = {   // {x, erf(x)}
                {0.1, 0.1124629160182849},
                {0.5, 0.5204998778130465},
                {1, 0.8427007929497149},
                {-1, -0.8427007929497149},
                {2, 0.9953222650189527},
                {3, 0.9999779095030014},
                {5, 0.9999999999984626},
        };
        for (double[] pair : known) {
            assertEquals(pair[1], Erf.erf(pair[0]), 1e-14, "erf(" + pair[0] + ")");
        }
    }

    @Test
    void isOddWithLimitsZeroAndOne() {
        assertEquals(0.0, Erf.erf(0.0), 0.0);
        assertEquals(1.0, Erf.erf(30), 0.0);
        assertEquals(-1.0, Erf.erf(-30), 0.0);
        for (double x : new double[]{0.2, 0.46875, 0.47, 1.7, 4.0, 4.5, 7}) {
            assertEquals(-Erf.erf(x), Erf.erf(-x), 0.0, "erf(-" + x + ")");
        }
    }

    @Test
    void derivativeIsTheGaussianKernel() {
        // d/dx erf(x) = 2/√π · exp(−x²), checked by central differences across the range boundaries
        double h = 1e-5;
        for (double x : new double[]{-2.2, 0.3, 0.46875, 0.9, 3.99, 4.01, 5.5}) {
            double numeric = (Erf.erf(x + h) - Erf.erf(x - h)) / (2 * h);
            assertEquals(2 / Math.sqrt(Math.PI) * Math.exp(-x * x), numeric, 1e-9, "erf'(" + x + ")");
        }
    }
}
