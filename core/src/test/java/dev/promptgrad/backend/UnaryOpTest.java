package dev.promptgrad.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The activations' double-precision specification: known values of each forward rule, and each
 * derivative against central differences of its own {@code apply}.
 */
class UnaryOpTest {

    @Test
    void forwardMatchesKnownValues() {
        assertEquals(0.7310585786300049, UnaryOp.SILU.apply(1), 1e-15);             // 1·σ(1)
        assertEquals(0.8413447460685429, UnaryOp.GELU_ERF.apply(1), 1e-15);         // Φ(1)
        assertEquals(0.8411919906082768, UnaryOp.GELU_TANH.apply(1), 1e-15);        // 0.5·(1 + tanh(√(2/π)·1.044715))
        for (UnaryOp op : UnaryOp.values()) {
            assertEquals(0.0, op.apply(0), 0.0, op + "(0)");
        }
    }

    @Test
    void derivativesMatchCentralDifferences() {
        double h = 1e-5;
        for (UnaryOp op : UnaryOp.values()) {
            for (double x : new double[]{-6, -3, -1.3, -0.5, 0, 0.25, 1, 2.5, 8}) {
                double numeric = (op.apply(x + h) - op.apply(x - h)) / (2 * h);
                assertEquals(numeric, op.derivative(x), 1e-9, op + "'(" + x + ")");
            }
        }
    }

    @Test
    void siluDerivativeAtOneIsKnown() {
        assertEquals(0.9276705118714869, UnaryOp.SILU.derivative(1), 1e-15);   // σ(1)·(1 + 1·(1 − σ(1)))
        assertEquals(0.5, UnaryOp.SILU.derivative(0), 0.0);
        assertEquals(0.5, UnaryOp.GELU_ERF.derivative(0), 0.0);
        assertEquals(0.5, UnaryOp.GELU_TANH.derivative(0), 0.0);
    }
}
