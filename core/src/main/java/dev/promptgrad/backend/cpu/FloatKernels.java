package dev.promptgrad.backend.cpu;

/**
 * The CPU backend's inner loops over plain arrays, written so that the JIT compiles them to SIMD code: each loop
 * does one simple thing over one element type (C2 in Java 17 vectorizes neither a loop mixing float and double
 * arithmetic nor {@code Math.exp}), so the transcendental work runs in double over per-thread scratch arrays, with
 * a polynomial {@link #exp}. Only {@link CpuBackend} uses it; the formulas in {@link dev.promptgrad.backend.UnaryOp}
 * remain the specification, and these agree with them to float rounding.
 */
final class FloatKernels {

    private FloatKernels() {
    }

    private static final ThreadLocal<float[][]> FLOATS = ThreadLocal.withInitial(() -> new float[4][0]);
    private static final ThreadLocal<double[][]> DOUBLES = ThreadLocal.withInitial(() -> new double[3][0]);

    /** This thread's float array number {@code slot} (0–3) with at least {@code length} elements; contents undefined. */
    static float[] array(int slot, int length) {
        float[][] arrays = FLOATS.get();
        if (arrays[slot].length < length) arrays[slot] = new float[Math.max(length, 2 * arrays[slot].length)];
        return arrays[slot];
    }

    private static final ThreadLocal<short[][]> WORDS = ThreadLocal.withInitial(() -> new short[1][0]);

    /** This thread's array of raw bfloat16 words with at least {@code length} elements; contents undefined. */
    static short[] words(int length) {
        short[][] arrays = WORDS.get();
        if (arrays[0].length < length) arrays[0] = new short[Math.max(length, 2 * arrays[0].length)];
        return arrays[0];
    }

    /** This thread's double array number {@code slot} (0–2), as {@link #array}. */
    static double[] doubles(int slot, int length) {
        double[][] arrays = DOUBLES.get();
        if (arrays[slot].length < length) arrays[slot] = new double[Math.max(length, 2 * arrays[slot].length)];
        return arrays[slot];
    }

    /** Arguments of {@link #exp} are clamped to ±EXP_LIMIT: e^±88 is still a float (about 1.7e38 and 6e-39). */
    private static final double EXP_LIMIT = 88;

    /**
     * v[i] = e^v[i] over [0, n), to about 1e-10 relative: e^x = (e^(x/256))^256 with a degree-10 Taylor polynomial
     * for |x/256| ≤ 0.344 and eight squarings, all in double. Arguments beyond ±88 are clamped first (the results
     * are then rounded to float, where they are 0 or ∞ anyway).
     */
    static void exp(double[] v, int n) {
        for (int i = 0; i < n; i++) v[i] = Math.max(-EXP_LIMIT, Math.min(EXP_LIMIT, v[i]));
        for (int i = 0; i < n; i++) {
            double r = v[i] * (1.0 / 256);
            double p = 1.0 / 3628800;
            p = p * r + 1.0 / 362880;
            p = p * r + 1.0 / 40320;
            p = p * r + 1.0 / 5040;
            p = p * r + 1.0 / 720;
            p = p * r + 1.0 / 120;
            p = p * r + 1.0 / 24;
            p = p * r + 1.0 / 6;
            p = p * r + 0.5;
            p = p * r + 1;
            p = p * r + 1;
            p *= p;
            p *= p;
            p *= p;
            p *= p;
            p *= p;
            p *= p;
            p *= p;
            p *= p;
            v[i] = p;
        }
    }

    static void widen(float[] from, double[] to, int n) {
        for (int i = 0; i < n; i++) to[i] = from[i];
    }

    static void narrow(double[] from, float[] to, int n) {
        for (int i = 0; i < n; i++) to[i] = (float) from[i];
    }

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
    private static final double GELU_CUBIC = 0.044715;

    /** e[i] = exp(−2u) for GPT-2's GELU, u = √(2/π)(x + 0.044715x³), from x in {@code x}. */
    private static void geluExponentials(double[] x, double[] e, int n) {
        for (int i = 0; i < n; i++) {
            double v = x[i];
            e[i] = -2 * SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v);
        }
        exp(e, n);
    }

    /** GPT-2's GELU in place over v[0, n): x·σ(2u), as 0.5·x·(1 + tanh u) equals. */
    static void geluTanh(float[] v, int n) {
        double[] x = doubles(0, n), e = doubles(1, n);
        widen(v, x, n);
        geluExponentials(x, e, n);
        for (int i = 0; i < n; i++) x[i] = x[i] / (1 + e[i]);
        narrow(x, v, n);
    }

    /**
     * g[i] ← g[i] · gelu'(x[i]) = g·(s + 2x·s·(1 − s)·u'), s = σ(2u). 1 − s is e·s with e = exp(−2u), so it keeps
     * its precision when s is near 1.
     */
    static void geluTanhBackward(float[] xs, float[] g, int n) {
        double[] x = doubles(0, n), e = doubles(1, n), d = doubles(2, n);
        widen(xs, x, n);
        geluExponentials(x, e, n);
        widen(g, d, n);
        for (int i = 0; i < n; i++) {
            double v = x[i], s = 1 / (1 + e[i]);
            double du = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * v * v);
            d[i] *= s + 2 * v * s * (e[i] * s) * du;
        }
        narrow(d, g, n);
    }

    /** SiLU in place: x·σ(x). */
    static void silu(float[] v, int n) {
        double[] x = doubles(0, n), e = doubles(1, n);
        widen(v, x, n);
        for (int i = 0; i < n; i++) e[i] = -x[i];
        exp(e, n);
        for (int i = 0; i < n; i++) x[i] = x[i] / (1 + e[i]);
        narrow(x, v, n);
    }

    /** g[i] ← g[i] · silu'(x[i]) = g·σ(x)·(1 + x·(1 − σ(x))), with 1 − σ = e·σ, e = exp(−x). */
    static void siluBackward(float[] xs, float[] g, int n) {
        double[] x = doubles(0, n), e = doubles(1, n), d = doubles(2, n);
        widen(xs, x, n);
        for (int i = 0; i < n; i++) e[i] = -x[i];
        exp(e, n);
        widen(g, d, n);
        for (int i = 0; i < n; i++) {
            double s = 1 / (1 + e[i]);
            d[i] *= s * (1 + x[i] * (e[i] * s));
        }
        narrow(d, g, n);
    }

    /**
     * v[i] ← e^(v[i] − max) over [0, n) in place; returns Σ of the new values in double. For softmax rows and the
     * cross-entropy's normaliser.
     */
    static double shiftedExp(float[] v, float max, int n) {
        double[] e = doubles(0, n);
        widen(v, e, n);
        for (int i = 0; i < n; i++) e[i] -= max;
        exp(e, n);
        narrow(e, v, n);
        return sum(e, n);
    }

    /** Σ v[0, n) with four interleaved partial sums, so consecutive additions need not wait for each other. */
    static double sum(double[] v, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += v[i];
            s1 += v[i + 1];
            s2 += v[i + 2];
            s3 += v[i + 3];
        }
        for (; i < n; i++) s0 += v[i];
        return (s0 + s1) + (s2 + s3);
    }

    /** The largest of v[0, n) (n ≥ 1), with four interleaved partial maxima; NaNs are not looked for. */
    static float max(float[] v, int n) {
        float m0 = v[0], m1 = v[0], m2 = v[0], m3 = v[0];
        int i = 0;
        for (; i + 3 < n; i += 4) {
            m0 = v[i] > m0 ? v[i] : m0;
            m1 = v[i + 1] > m1 ? v[i + 1] : m1;
            m2 = v[i + 2] > m2 ? v[i + 2] : m2;
            m3 = v[i + 3] > m3 ? v[i + 3] : m3;
        }
        for (; i < n; i++) m0 = v[i] > m0 ? v[i] : m0;
        return Math.max(Math.max(m0, m1), Math.max(m2, m3));
    }
}
