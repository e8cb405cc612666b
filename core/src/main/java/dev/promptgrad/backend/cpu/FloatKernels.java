package dev.promptgrad.backend.cpu;

/**
 * The CPU backend's inner loops over plain {@code float[]} runs, which the JIT compiles to SIMD code where it can:
 * a float {@code exp} without {@code Math.exp}'s double call, the activations and their derivatives built on it,
 * and per-thread arrays that kernels copy native rows into and out of. Only {@link CpuBackend} uses it; the
 * double-precision formulas in {@link dev.promptgrad.backend.UnaryOp} remain the specification.
 */
final class FloatKernels {

    private FloatKernels() {
    }

    private static final ThreadLocal<float[][]> ARRAYS = ThreadLocal.withInitial(() -> new float[4][0]);

    /** This thread's array number {@code slot} (0–3) with at least {@code length} elements; contents undefined. */
    static float[] array(int slot, int length) {
        float[][] arrays = ARRAYS.get();
        if (arrays[slot].length < length) arrays[slot] = new float[Math.max(length, 2 * arrays[slot].length)];
        return arrays[slot];
    }

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HIGH = 0.693359375f;     // ln 2 = LN2_HIGH + LN2_LOW, LN2_HIGH exact in 9 bits
    private static final float LN2_LOW = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f;         // 1.5 · 2^23: adding it rounds to an integer

    /**
     * e^x in float to within 2 ulp: x = k·ln 2 + r with |r| ≤ ln2/2 (Cody–Waite, two constants), a degree-7
     * polynomial for e^r, and 2^k built in the exponent bits. Below −87.3 it returns about 1e-38, above 88.7 ∞.
     */
    static float exp(float x) {
        float v = Math.max(-87.3f, Math.min(88.7f, x));
        float rounded = v * LOG2E + ROUNDER;
        int k = Float.floatToRawIntBits(rounded) - 0x4B400000;   // the integer the rounder added, as an int
        float kf = rounded - ROUNDER;
        float r = v - kf * LN2_HIGH - kf * LN2_LOW;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1f;
        return p * Float.intBitsToFloat((k + 127) << 23);
    }

    /**
     * Largest argument the activations pass to {@link #exp}: e^80 is finite, so e·σ stays a number (∞·0 would be
     * NaN) while σ = 1/(1 + e^80) is already far below anything a float result can show.
     */
    private static final float MAX_EXPONENT = 80f;

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    private static final float GELU_CUBIC = 0.044715f;

    /** GPT-2's GELU in place over v[0, n): x·σ(2u), u = √(2/π)(x + 0.044715x³), as 0.5·x·(1 + tanh u) equals. */
    static void geluTanh(float[] v, int n) {
        for (int i = 0; i < n; i++) {
            float x = v[i];
            float e = exp(Math.min(MAX_EXPONENT, -2 * SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));
            v[i] = x / (1 + e);
        }
    }

    /**
     * GELU's derivative times the incoming gradient: d[i] = g[i] · (s + 2x·s·(1 − s)·u'), s = σ(2u), written into
     * d (which may be g). 1 − s is computed as e·s with e = exp(−2u), so it keeps its precision when s is near 1.
     */
    static void geluTanhBackward(float[] x, float[] g, float[] d, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[i];
            float e = exp(Math.min(MAX_EXPONENT, -2 * SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
            float s = 1 / (1 + e);
            float du = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * v * v);
            d[i] = g[i] * (s + 2 * v * s * (e * s) * du);
        }
    }

    /** SiLU in place: x·σ(x). */
    static void silu(float[] v, int n) {
        for (int i = 0; i < n; i++) {
            float x = v[i];
            v[i] = x / (1 + exp(Math.min(MAX_EXPONENT, -x)));
        }
    }

    /** SiLU's derivative times g: σ(x)·(1 + x·(1 − σ(x))), 1 − σ = e·σ with e = exp(−x); d may be g. */
    static void siluBackward(float[] x, float[] g, float[] d, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[i];
            float e = exp(Math.min(MAX_EXPONENT, -v));
            float s = 1 / (1 + e);
            d[i] = g[i] * (s * (1 + v * (e * s)));
        }
    }
}
