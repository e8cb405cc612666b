package dev.promptgrad.backend;

import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kernel of {@link ReferenceBackend} on tiny inputs whose answers were worked out by hand (in the
 * comments), in F64 so they are exact; plus F32 rounding, memory accounting and use after release.
 * Argument rejections live in {@link KernelContractTest}.
 */
class ReferenceBackendTest {
    private static final double EXACT = 1e-12;

    private final ReferenceBackend backend = new ReferenceBackend();
    private final Scope scope = new Scope(backend, "reference test");

    @AfterEach
    void closeScopeAndCheckNothingLeaks() {
        scope.close();
        assertEquals(0, backend.liveBytes(), "live bytes after closing the scope");
        backend.close();
    }

    private Tensor f64(double[] values, int... shape) {
        return scope.of(DType.F64, values, shape);
    }

    private Tensor zeros(int... shape) {
        Tensor t = scope.allocate(DType.F64, shape);
        backend.fill(t, 0);
        return t;
    }

    private double[] read(Tensor t) {
        return backend.downloadDouble(t);
    }

    // ---- memory --------------------------------------------------------------------------------------

    @Test
    void f64RoundTripIsExactWhileF32RoundsToFloat() {
        Tensor wide = scope.of(DType.F64, new double[]{0.1, 1e-300}, 2);
        Tensor narrow = scope.of(DType.F32, new double[]{0.1, 1e-300}, 2);
        assertArrayEquals(new double[]{0.1, 1e-300}, read(wide), 0.0);
        assertArrayEquals(new double[]{(float) 0.1, 0.0}, read(narrow), 0.0);
        assertEquals(0.10000000149011612, read(narrow)[0], 0.0);
        assertArrayEquals(new float[]{0.1f, 0f}, backend.download(wide), 0f);
    }

    @Test
    void f32KernelsRoundEveryStore() {
        Tensor x = scope.of(new float[]{1f, 3f}, 2);
        Tensor out = scope.allocate(DType.F32, 2);
        backend.scale(x, 0.1, out);
        assertArrayEquals(new double[]{(float) 0.1, (float) 0.3}, read(out), 0.0);
    }

    @Test
    void liveBytesCountFourPerF32AndEightPerF64AndReturnToZero() {
        try (Scope local = new Scope(backend, "bytes")) {
            local.allocate(DType.F32, 3);
            assertEquals(12, backend.liveBytes());
            local.allocate(DType.F64, 2, 3);
            assertEquals(12 + 48, backend.liveBytes());
        }
        assertEquals(0, backend.liveBytes());
    }

    @Test
    void releasingTwiceThrows() {
        var buffer = backend.allocate(DType.F32, 4, "double release");
        assertEquals(16, backend.liveBytes());
        backend.release(buffer);
        assertTrue(buffer.isReleased());
        assertEquals(0, backend.liveBytes());
        var error = assertThrows(IllegalStateException.class, () -> backend.release(buffer));
        assertTrue(error.getMessage().contains("double release"), error.getMessage());
    }

    @Test
    void usingAReleasedBufferThrows() {
        Tensor stale;
        try (Scope local = new Scope(backend, "short-lived")) {
            stale = local.of(new float[]{1, 2}, 2);
        }
        Tensor out = scope.allocate(2);
        var error = assertThrows(IllegalStateException.class, () -> backend.copy(stale, out));
        assertTrue(error.getMessage().contains("scope 'short-lived'"), error.getMessage());
        assertThrows(IllegalStateException.class, () -> backend.download(stale));
        assertThrows(IllegalStateException.class, () -> backend.fill(stale, 0));
    }

    @Test
    void tensorsOfAnotherBackendAreRejected() {
        try (ReferenceBackend other = new ReferenceBackend(); Scope foreign = new Scope(other, "foreign")) {
            Tensor theirs = foreign.of(new float[]{1}, 1);
            Tensor ours = scope.allocate(1);
            var error = assertThrows(IllegalArgumentException.class, () -> backend.copy(theirs, ours));
            assertTrue(error.getMessage().contains("not allocated by this reference backend"), error.getMessage());
        }
    }

    @Test
    void fillAndReshapingCopy() {
        Tensor src = f64(new double[]{1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor dst = zeros(3, 2);
        backend.copy(src, dst);
        assertArrayEquals(new double[]{1, 2, 3, 4, 5, 6}, read(dst), 0.0);
        backend.fill(dst.slice(1, 2), -7.5);
        assertArrayEquals(new double[]{1, 2, -7.5, -7.5, 5, 6}, read(dst), 0.0);
    }

    // ---- element-wise --------------------------------------------------------------------------------

    @Test
    void addResidualBiasAndInPlace() {
        Tensor a = f64(new double[]{1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor bias = f64(new double[]{10, 20, 30}, 3);
        Tensor out = zeros(2, 3);
        backend.add(a, bias, out);
        assertArrayEquals(new double[]{11, 22, 33, 14, 25, 36}, read(out), 0.0);

        backend.add(a, out, a);   // a += out, gradient accumulation
        assertArrayEquals(new double[]{12, 24, 36, 18, 30, 42}, read(a), 0.0);

        Tensor b = f64(new double[]{1, 1, 1, 1, 1, 1}, 2, 3);
        backend.add(a, b, b);     // out may be b when sizes are equal
        assertArrayEquals(new double[]{13, 25, 37, 19, 31, 43}, read(b), 0.0);
    }

    @Test
    void addBroadcastsAnyDivisorSize() {
        // [2, 2, 2] plus a [2, 2] positional table: b repeats every 4 elements
        Tensor a = f64(new double[]{0, 0, 0, 0, 1, 1, 1, 1}, 2, 2, 2);
        Tensor table = f64(new double[]{1, 2, 3, 4}, 2, 2);
        Tensor out = zeros(2, 2, 2);
        backend.add(a, table, out);
        assertArrayEquals(new double[]{1, 2, 3, 4, 2, 3, 4, 5}, read(out), 0.0);
    }

    @Test
    void scaleInPlace() {
        Tensor x = f64(new double[]{1, -2, 0.5}, 3);
        backend.scale(x, -4, x);
        assertArrayEquals(new double[]{-4, 8, -2}, read(x), 0.0);
    }

    @Test
    void sumRowsOverwritesOrAccumulates() {
        Tensor x = f64(new double[]{1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor out = f64(new double[]{100, 100, 100}, 3);
        backend.sumRows(x, out, false);
        assertArrayEquals(new double[]{5, 7, 9}, read(out), 0.0);
        backend.sumRows(x, out, true);
        assertArrayEquals(new double[]{10, 14, 18}, read(out), 0.0);
    }

    @Test
    void unaryAndItsBackwardApplyTheSpecification() {
        double[] xs = {-2, -0.5, 0, 1, 3};
        for (UnaryOp op : UnaryOp.values()) {
            Tensor x = f64(xs, 5);
            Tensor out = zeros(5);
            backend.unary(op, x, out);
            Tensor dOut = f64(new double[]{1, 2, 3, 4, 5}, 5);
            backend.unaryBackward(op, x, dOut, dOut);   // dx may be dOut
            for (int i = 0; i < xs.length; i++) {
                assertEquals(op.apply(xs[i]), read(out)[i], 0.0, op + " at " + xs[i]);
                assertEquals((i + 1) * op.derivative(xs[i]), read(dOut)[i], 0.0, op + "' at " + xs[i]);
            }
            backend.unary(op, x, x);
            assertArrayEquals(read(out), read(x), 0.0, op + " in place");
        }
        Tensor one = f64(new double[]{1}, 1);
        backend.unary(UnaryOp.SILU, one, one);
        assertEquals(0.7310585786300049, read(one)[0], EXACT);   // 1·σ(1)
    }

    @Test
    void swigluAndBackward() {
        // silu(0) = 0, silu'(0) = 1/2; silu(1) = σ(1) = 0.7310585786300049, silu'(1) = 0.9276705118714869
        Tensor gate = f64(new double[]{0, 1}, 2);
        Tensor up = f64(new double[]{3, 2}, 2);
        Tensor out = zeros(2);
        backend.swiglu(gate, up, out);
        assertArrayEquals(new double[]{0, 2 * 0.7310585786300049}, read(out), EXACT);

        Tensor dOut = f64(new double[]{4, 5}, 2);
        Tensor dGate = zeros(2);
        Tensor dUp = zeros(2);
        backend.swigluBackward(gate, up, dOut, dGate, dUp);
        assertArrayEquals(new double[]{4 * 3 * 0.5, 5 * 2 * 0.9276705118714869}, read(dGate), EXACT);
        assertArrayEquals(new double[]{0, 5 * 0.7310585786300049}, read(dUp), EXACT);

        Tensor onlyUp = zeros(2);
        backend.swigluBackward(gate, up, dOut, null, onlyUp);
        assertArrayEquals(read(dUp), read(onlyUp), 0.0);
    }

    // ---- normalisation -------------------------------------------------------------------------------

    @Test
    void layerNormOfAKnownRow() {
        // row [1, 2, 3, 4]: mean 2.5, biased variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25, eps 0
        double r = 1 / Math.sqrt(1.25);
        Tensor x = f64(new double[]{1, 2, 3, 4, 5, 5, 5, 5}, 2, 4);
        Tensor gamma = f64(new double[]{1, 1, 2, 2}, 4);
        Tensor beta = f64(new double[]{0, 0, 1, 1}, 4);
        Tensor out = zeros(2, 4);
        Tensor mean = zeros(2);
        Tensor rstd = zeros(2);
        backend.layerNorm(x, gamma, beta, 0.0, out, mean, rstd);
        assertArrayEquals(new double[]{-1.5 * r, -0.5 * r, 2 * 0.5 * r + 1, 2 * 1.5 * r + 1}, slice(read(out), 0, 4), EXACT);
        assertArrayEquals(new double[]{2.5, 5}, read(mean), EXACT);

        // second row is constant: variance 0, so rstd = 1/√eps; with eps 0 it is infinite, hence eps 0.25 here
        backend.layerNorm(x, gamma, null, 0.25, out, null, rstd);
        assertEquals(1 / Math.sqrt(1.25 + 0.25), read(rstd)[0], EXACT);
        assertEquals(2.0, read(rstd)[1], EXACT);
        assertArrayEquals(new double[]{0, 0, 0, 0}, slice(read(out), 4, 8), EXACT);
    }

    @Test
    void layerNormBackwardOfUniformGradientIsZero() {
        // with gamma 1 and dOut constant, g − mean(g) = 0 and mean(g·x̂) = 0: shifting x does not change out
        Tensor x = f64(new double[]{1, 2, 3, 7}, 1, 4);
        Tensor gamma = f64(new double[]{1, 1, 1, 1}, 4);
        Tensor out = zeros(1, 4);
        Tensor mean = zeros(1);
        Tensor rstd = zeros(1);
        backend.layerNorm(x, gamma, null, 1e-5, out, mean, rstd);
        Tensor dOut = f64(new double[]{3, 3, 3, 3}, 1, 4);
        Tensor dx = zeros(1, 4);
        backend.layerNormBackward(x, gamma, mean, rstd, dOut, dx);
        assertArrayEquals(new double[]{0, 0, 0, 0}, read(dx), EXACT);
    }

    @Test
    void layerNormBackwardMatchesFiniteDifferences() {
        double[] xs = {0.3, -1.2, 2.0, 0.7, -0.4, 1.1};
        double[] dOut = {0.5, -1.0, 0.25, 2.0, -0.75, 1.5};
        Tensor gamma = f64(new double[]{1.5, -0.5, 2.0}, 3);
        Tensor beta = f64(new double[]{0.1, 0.2, 0.3}, 3);
        double eps = 1e-3;
        Function<double[], double[]> forward = v -> {
            Tensor out = zeros(2, 3);
            backend.layerNorm(f64(v, 2, 3), gamma, beta, eps, out, null, null);
            return read(out);
        };
        Tensor x = f64(xs, 2, 3);
        Tensor mean = zeros(2);
        Tensor rstd = zeros(2);
        backend.layerNorm(x, gamma, beta, eps, zeros(2, 3), mean, rstd);
        Tensor dx = zeros(2, 3);
        backend.layerNormBackward(x, gamma, mean, rstd, f64(dOut, 2, 3), dx);
        assertArrayEquals(numericGradient(forward, xs, dOut), read(dx), 1e-7);
    }

    @Test
    void rmsNormOfKnownRows() {
        // [3, 4]: mean square 12.5; [1, −1]: mean square 1, eps 0
        Tensor x = f64(new double[]{3, 4, 1, -1}, 2, 2);
        Tensor weight = f64(new double[]{1, 2}, 2);
        Tensor out = zeros(2, 2);
        Tensor rstd = zeros(2);
        backend.rmsNorm(x, weight, 0.0, out, rstd);
        double r = 1 / Math.sqrt(12.5);
        assertArrayEquals(new double[]{3 * r, 8 * r, 1, -2}, read(out), EXACT);
        assertArrayEquals(new double[]{r, 1}, read(rstd), EXACT);
    }

    @Test
    void rmsNormBackwardMatchesFiniteDifferences() {
        double[] xs = {0.3, -1.2, 2.0, 0.7, -0.4, 1.1};
        double[] dOut = {0.5, -1.0, 0.25, 2.0, -0.75, 1.5};
        Tensor weight = f64(new double[]{1.5, -0.5, 2.0}, 3);
        double eps = 1e-3;
        Function<double[], double[]> forward = v -> {
            Tensor out = zeros(2, 3);
            backend.rmsNorm(f64(v, 2, 3), weight, eps, out, null);
            return read(out);
        };
        Tensor x = f64(xs, 2, 3);
        Tensor rstd = zeros(2);
        backend.rmsNorm(x, weight, eps, zeros(2, 3), rstd);
        Tensor dx = zeros(2, 3);
        backend.rmsNormBackward(x, weight, rstd, f64(dOut, 2, 3), dx);
        assertArrayEquals(numericGradient(forward, xs, dOut), read(dx), 1e-7);
    }

    // ---- gemm ----------------------------------------------------------------------------------------

    // A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]]
    // A·B = [[1·7 + 2·9 + 3·11, 1·8 + 2·10 + 3·12], [4·7 + 5·9 + 6·11, 4·8 + 5·10 + 6·12]] = [[58, 64], [139, 154]]
    private static final double[] A = {1, 2, 3, 4, 5, 6};
    private static final double[] A_T = {1, 4, 2, 5, 3, 6};
    private static final double[] B = {7, 8, 9, 10, 11, 12};
    private static final double[] B_T = {7, 9, 11, 8, 10, 12};
    private static final double[] AB = {58, 64, 139, 154};

    @Test
    void gemmTwoByThreeTimesThreeByTwo() {
        Tensor c = zeros(2, 2);
        backend.gemm(Gemm.of(2, 2, 3, false, false), f64(A, 2, 3), f64(B, 3, 2), c);
        assertArrayEquals(AB, read(c), 0.0);
    }

    @Test
    void gemmReadsTransposedOperands() {
        Tensor c = zeros(2, 2);
        backend.gemm(Gemm.of(2, 2, 3, true, false), f64(A_T, 3, 2), f64(B, 3, 2), c);
        assertArrayEquals(AB, read(c), 0.0);
        backend.gemm(Gemm.of(2, 2, 3, false, true), f64(A, 2, 3), f64(B_T, 2, 3), c);
        assertArrayEquals(AB, read(c), 0.0);
        backend.gemm(Gemm.of(2, 2, 3, true, true), f64(A_T, 3, 2), f64(B_T, 2, 3), c);
        assertArrayEquals(AB, read(c), 0.0);
    }

    @Test
    void gemmAlphaAndBeta() {
        // C = 2·A·B + 0.5·[[1, 2], [3, 4]]
        Tensor c = f64(new double[]{1, 2, 3, 4}, 2, 2);
        backend.gemm(Gemm.of(2, 2, 3, false, false).scaled(2f, 0.5f), f64(A, 2, 3), f64(B, 3, 2), c);
        assertArrayEquals(new double[]{116.5, 129, 279.5, 310}, read(c), 0.0);
    }

    @Test
    void gemmBetaZeroIgnoresNaNInC() {
        Tensor c = f64(new double[]{Double.NaN, Double.NaN, Double.NaN, Double.NaN}, 2, 2);
        backend.gemm(Gemm.of(2, 2, 3, false, false).scaled(1f, 0f), f64(A, 2, 3), f64(B, 3, 2), c);
        assertArrayEquals(AB, read(c), 0.0);
    }

    @Test
    void gemmBatchedWithBroadcastB() {
        // batch 0: A·B; batch 1: (2A)·B = 2·AB; B is shared (strideB 0)
        double[] twoAs = {1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12};
        Tensor c = zeros(2, 2, 2);
        backend.gemm(new Gemm(2, 2, 2, 3, false, false, 6, 0, 4, 1f, 0f), f64(twoAs, 2, 2, 3), f64(B, 3, 2), c);
        assertArrayEquals(new double[]{58, 64, 139, 154, 116, 128, 278, 308}, read(c), 0.0);
    }

    @Test
    void gemmBatchedWithGapsBetweenMatrices() {
        // C matrices at stride 5 leave one untouched element (−1) between them; batch 1 multiplies by I
        double[] as = {1, 0, 0, 1, 1, 0, 0, 1};           // two 2×2: I, I
        double[] bs = {1, 2, 3, 4, 5, 6, 7, 8};           // two 2×2
        Tensor c = f64(new double[]{-1, -1, -1, -1, -1, -1, -1, -1, -1}, 9);
        backend.gemm(new Gemm(2, 2, 2, 2, false, false, 4, 4, 5, 1f, 0f), f64(as, 8), f64(bs, 8), c);
        assertArrayEquals(new double[]{1, 2, 3, 4, -1, 5, 6, 7, 8}, read(c), 0.0);
    }

    @Test
    void gemmBatchedBackToBackWithBeta() {
        Tensor c = f64(new double[]{1, 1, 1, 1, 1, 1, 1, 1}, 2, 2, 2);
        double[] as = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6};
        double[] bs = {7, 8, 9, 10, 11, 12, 7, 8, 9, 10, 11, 12};
        backend.gemm(Gemm.batched(2, 2, 2, 3, false, false).scaled(1f, 1f), f64(as, 2, 2, 3), f64(bs, 2, 3, 2), c);
        assertArrayEquals(new double[]{59, 65, 140, 155, 59, 65, 140, 155}, read(c), 0.0);
    }

    // ---- attention pieces ------------------------------------------------------------------------------

    @Test
    void softmaxOfEqualScoresIsUniformAndScaleSharpens() {
        Tensor scores = f64(new double[]{5, 5, 5, 5, 0, Math.log(2) / 2, 0, 0}, 1, 1, 2, 4);
        Tensor probs = zeros(1, 1, 2, 4);
        backend.softmax(scores, 2.0, false, null, probs);
        // row 1, scaled by 2: exp of [0, ln 2, 0, 0] = [1, 2, 1, 1], over 5
        assertArrayEquals(new double[]{0.25, 0.25, 0.25, 0.25, 0.2, 0.4, 0.2, 0.2}, read(probs), EXACT);
    }

    @Test
    void softmaxSubtractsTheMaximum() {
        Tensor scores = f64(new double[]{1000, 1000, 999}, 1, 1, 1, 3);
        backend.softmax(scores, 1.0, false, null, scores);   // probs may be scores
        double e = Math.exp(-1);
        assertArrayEquals(new double[]{1 / (2 + e), 1 / (2 + e), e / (2 + e)}, read(scores), EXACT);
    }

    @Test
    void causalSoftmaxWithFewerQueriesThanKeys() {
        // 2 queries over 3 keys: query i sees keys j ≤ i + 1; all scores 0
        Tensor scores = zeros(1, 1, 2, 3);
        Tensor probs = zeros(1, 1, 2, 3);
        backend.softmax(scores, 1.0, true, null, probs);
        assertArrayEquals(new double[]{0.5, 0.5, 0, 1 / 3.0, 1 / 3.0, 1 / 3.0}, read(probs), EXACT);
    }

    @Test
    void causalSoftmaxWithMoreQueriesThanKeysZeroesBlindRows() {
        // 3 queries over 2 keys: query i sees j ≤ i − 1, so query 0 sees nothing
        Tensor scores = f64(new double[]{4, 9, 0, 7, 0, 0}, 1, 1, 3, 2);
        Tensor probs = zeros(1, 1, 3, 2);
        backend.softmax(scores, 1.0, true, null, probs);
        assertArrayEquals(new double[]{0, 0, 1, 0, 0.5, 0.5}, read(probs), EXACT);
    }

    @Test
    void paddingMaskPerBatchAndFullyMaskedRow() {
        // batch 0 masks key 1; batch 1 masks every key, so its rows become zeros
        Tensor scores = f64(new double[]{0, 100, 0, 1, 2, 3}, 2, 1, 1, 3);
        Tensor mask = f64(new double[]{1, 0, 1, 0, 0, 0}, 2, 3);
        Tensor probs = zeros(2, 1, 1, 3);
        backend.softmax(scores, 1.0, false, mask, probs);
        assertArrayEquals(new double[]{0.5, 0, 0.5, 0, 0, 0}, read(probs), 0.0);
    }

    @Test
    void causalAndPaddingCombine() {
        // 2 queries, 2 keys; key 0 is padding: query 0 sees nothing, query 1 sees key 1 only
        Tensor scores = f64(new double[]{1, 2, 3, 4}, 1, 1, 2, 2);
        Tensor mask = f64(new double[]{0, 1}, 1, 2);
        Tensor probs = zeros(1, 1, 2, 2);
        backend.softmax(scores, 1.0, true, mask, probs);
        assertArrayEquals(new double[]{0, 0, 0, 1}, read(probs), 0.0);
    }

    @Test
    void softmaxBackwardOfAKnownRow() {
        // p = [0.25, 0.75, 0], dp = [1, 0, 5], Σ p·dp = 0.25, scale 2:
        // dS = 2·p·(dp − 0.25) = [2·0.25·0.75, 2·0.75·(−0.25), 0] = [0.375, −0.375, 0]
        Tensor probs = f64(new double[]{0.25, 0.75, 0}, 1, 1, 1, 3);
        Tensor dProbs = f64(new double[]{1, 0, 5}, 1, 1, 1, 3);
        backend.softmaxBackward(probs, dProbs, 2.0, dProbs);   // dScores may be dProbs
        assertArrayEquals(new double[]{0.375, -0.375, 0}, read(dProbs), EXACT);
    }

    @Test
    void softmaxBackwardMatchesFiniteDifferences() {
        double[] scores = {0.2, -1.0, 0.7, 1.5, 0.1, -0.3};
        double[] dProbs = {1.0, -2.0, 0.5, 0.3, 0.9, -0.4};
        Tensor mask = f64(new double[]{1, 1, 0}, 1, 3);
        Function<double[], double[]> forward = v -> {
            Tensor probs = zeros(1, 1, 2, 3);
            backend.softmax(f64(v, 1, 1, 2, 3), 0.5, false, mask, probs);
            return read(probs);
        };
        Tensor probs = f64(forward.apply(scores), 1, 1, 2, 3);
        Tensor dScores = zeros(1, 1, 2, 3);
        backend.softmaxBackward(probs, f64(dProbs, 1, 1, 2, 3), 0.5, dScores);
        assertArrayEquals(numericGradient(forward, scores, dProbs), read(dScores), 1e-8);
    }

    @Test
    void ropeRotatesAKnownVectorByAKnownAngle() {
        // headSize 2 has one pair, rotated by angle = position · theta⁰ = position
        Tensor x = f64(new double[]{1, 0}, 1, 1, 1, 2);
        Tensor out = zeros(1, 1, 1, 2);
        for (RopeLayout layout : RopeLayout.values()) {
            backend.rope(x, new int[]{3}, RopeFrequencies.standard(10000, 2), layout, false, out);
            // [1, 0] at position 3 turns by 3 radians to [cos 3, sin 3]
            assertArrayEquals(new double[]{Math.cos(3), Math.sin(3)}, read(out), EXACT, layout.toString());
        }
    }

    @Test
    void ropeRotateHalfPairsJWithJPlusHalf() {
        // headSize 4, theta 100, position 2: pair 0 angle 2·100⁰ = 2, pair 1 angle 2·100^(−2/4) = 0.2
        // ROTATE_HALF pairs (0, 2) and (1, 3) of x = [1, 2, 3, 4]
        Tensor x = f64(new double[]{1, 2, 3, 4}, 1, 1, 1, 4);
        Tensor out = zeros(1, 1, 1, 4);
        backend.rope(x, new int[]{2}, RopeFrequencies.standard(100, 4), RopeLayout.ROTATE_HALF, false, out);
        double c0 = Math.cos(2), s0 = Math.sin(2), c1 = Math.cos(0.2), s1 = Math.sin(0.2);
        assertArrayEquals(new double[]{1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 1 * s0 + 3 * c0, 2 * s1 + 4 * c1}, read(out), EXACT);
    }

    @Test
    void ropeInterleavedPairsTwoJWithTwoJPlusOne() {
        // same angles; INTERLEAVED pairs (0, 1) and (2, 3)
        Tensor x = f64(new double[]{1, 2, 3, 4}, 1, 1, 1, 4);
        Tensor out = zeros(1, 1, 1, 4);
        backend.rope(x, new int[]{2}, RopeFrequencies.standard(100, 4), RopeLayout.INTERLEAVED, false, out);
        double c0 = Math.cos(2), s0 = Math.sin(2), c1 = Math.cos(0.2), s1 = Math.sin(0.2);
        assertArrayEquals(new double[]{1 * c0 - 2 * s0, 1 * s0 + 2 * c0, 3 * c1 - 4 * s1, 3 * s1 + 4 * c1}, read(out), EXACT);
    }

    @Test
    void ropeUsesEachTimeStepsPositionAndInverseUndoesIt() {
        // [batch 1, heads 2, T 2, headSize 4]: position 0 leaves the first step unchanged
        double[] values = {1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, 0.5, 0.25, 0.125, 2};
        for (RopeLayout layout : RopeLayout.values()) {
            Tensor x = f64(values, 1, 2, 2, 4);
            int[] positions = {0, 5};
            RopeFrequencies frequencies = RopeFrequencies.standard(10000, 4);
            backend.rope(x, positions, frequencies, layout, false, x);   // out may be x
            double[] rotated = read(x);
            assertArrayEquals(slice(values, 0, 4), slice(rotated, 0, 4), 0.0, layout + " position 0");
            assertArrayEquals(slice(values, 8, 12), slice(rotated, 8, 12), 0.0, layout + " position 0, head 1");
            assertTrue(Math.abs(rotated[4] - values[4]) > 0.1, layout + " position 5 rotates");
            backend.rope(x, positions, frequencies, layout, true, x);
            assertArrayEquals(values, read(x), 1e-14, layout + " inverse");
        }
    }

    @Test
    void permuteSwapsTimeAndHeads() {
        // x [1, T 2, heads 3, headSize 2] holds x[0, t, h, d] = 6t + 2h + d; out[0, h, t, d] = x[0, t, h, d]
        Tensor x = f64(new double[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 1, 2, 3, 2);
        Tensor out = zeros(1, 3, 2, 2);
        backend.permute(x, new int[]{0, 2, 1, 3}, out);
        assertArrayEquals(new double[]{0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11}, read(out), 0.0);
    }

    @Test
    void permuteTransposesAMatrixAndKeepsIdentity() {
        Tensor m = f64(new double[]{1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor t = zeros(3, 2);
        backend.permute(m, new int[]{1, 0}, t);
        assertArrayEquals(new double[]{1, 4, 2, 5, 3, 6}, read(t), 0.0);
        Tensor same = zeros(2, 3);
        backend.permute(m, new int[]{0, 1}, same);
        assertArrayEquals(new double[]{1, 2, 3, 4, 5, 6}, read(same), 0.0);
    }

    @Test
    void permuteReversesFourAxes() {
        // x [2, 1, 1, 3] = 0..5; perm {3, 2, 1, 0} gives out [3, 1, 1, 2] with out[d, 0, 0, b] = x[b, 0, 0, d]
        Tensor x = f64(new double[]{0, 1, 2, 3, 4, 5}, 2, 1, 1, 3);
        Tensor out = zeros(3, 1, 1, 2);
        backend.permute(x, new int[]{3, 2, 1, 0}, out);
        assertArrayEquals(new double[]{0, 3, 1, 4, 2, 5}, read(out), 0.0);
    }

    // ---- embeddings and the loss ---------------------------------------------------------------------

    @Test
    void gatherCopiesRowsById() {
        Tensor table = f64(new double[]{0, 1, 10, 11, 20, 21}, 3, 2);
        Tensor out = zeros(3, 2);
        backend.gather(table, new int[]{2, 0, 2}, out);
        assertArrayEquals(new double[]{20, 21, 0, 1, 20, 21}, read(out), 0.0);
    }

    @Test
    void crossEntropyOfUniformLogitsIsLogVocab() {
        // softmax of equal logits is 1/4 each: loss ln 4 per row; dLogits = dScale·(1/4 − onehot)
        Tensor logits = f64(new double[]{3, 3, 3, 3, -1, -1, -1, -1}, 2, 4);
        Tensor dLogits = zeros(2, 4);
        double loss = backend.crossEntropy(logits, new int[]{1, 3}, 0.5, dLogits);
        assertEquals(2 * Math.log(4), loss, EXACT);
        assertArrayEquals(new double[]{0.125, -0.375, 0.125, 0.125, 0.125, 0.125, 0.125, -0.375}, read(dLogits), EXACT);
    }

    @Test
    void crossEntropyOfAKnownRowInPlace() {
        // logits [0, ln 3]: softmax [1/4, 3/4]; target 1 → loss −ln(3/4); dLogits [1/4, −1/4]
        Tensor logits = f64(new double[]{0, Math.log(3)}, 1, 2);
        double loss = backend.crossEntropy(logits, new int[]{1}, 1.0, logits);   // dLogits may be logits
        assertEquals(-Math.log(0.75), loss, EXACT);
        assertArrayEquals(new double[]{0.25, -0.25}, read(logits), EXACT);
    }

    @Test
    void crossEntropyIgnoresTargetMinus100AndSurvivesLargeLogits() {
        // row 0 ignored; row 1 [1000, 1000] target 0: loss ln 2 without overflow
        Tensor logits = f64(new double[]{5, -5, 1000, 1000}, 2, 2);
        Tensor dLogits = f64(new double[]{9, 9, 9, 9}, 2, 2);
        double loss = backend.crossEntropy(logits, new int[]{-100, 0}, 1.0, dLogits);
        assertEquals(Math.log(2), loss, EXACT);
        assertArrayEquals(new double[]{0, 0, -0.5, 0.5}, read(dLogits), EXACT);
        assertEquals(Math.log(2), backend.crossEntropy(logits, new int[]{-100, 1}, 1.0, null), EXACT);
    }

    @Test
    void argmaxTiesGoToTheLowestIndex() {
        Tensor x = f64(new double[]{1, 3, 3, 5, 5, 5, -1, -2, -7, 0, 0, 4}, 4, 3);
        assertArrayEquals(new int[]{1, 0, 0, 2}, backend.argmax(x));
    }

    // ---- helpers -------------------------------------------------------------------------------------

    /** Central differences of Σ dOut·forward(x) with respect to each x[i]. */
    private static double[] numericGradient(Function<double[], double[]> forward, double[] x, double[] dOut) {
        double h = 1e-6;
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double[] plus = x.clone(), minus = x.clone();
            plus[i] += h;
            minus[i] -= h;
            double[] up = forward.apply(plus), down = forward.apply(minus);
            double sum = 0;
            for (int j = 0; j < up.length; j++) sum += dOut[j] * (up[j] - down[j]);
            grad[i] = sum / (2 * h);
        }
        return grad;
    }

    private static double[] slice(double[] values, int from, int to) {
        return java.util.Arrays.copyOfRange(values, from, to);
    }
}
