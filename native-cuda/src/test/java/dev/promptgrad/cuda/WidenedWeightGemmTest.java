package dev.promptgrad.cuda;

import dev.promptgrad.backend.Gemm;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tiles of a product with a BF16 weight, checked without a GPU: each step's widening done in plain Java and its
 * SGEMM run on ColumnMajorGemmTest's model of cuBLAS must give exactly the row-major product, for either weight,
 * every transpose pair, tiles down to one column, partial last tiles, broadcast and strided batches; no step may
 * widen more than the cap, and every leading dimension must satisfy cuBLAS's bounds.
 */
class WidenedWeightGemmTest {

    /** m, n, k, batch, whether the weight is broadcast (stride 0), the cap in elements. */
    private static final int[][] CASES = {
        {5, 7, 3, 1, 0, 100},    // the whole weight in one step
        {5, 7, 3, 1, 0, 6},      // tiles of two, the last one partial
        {5, 7, 3, 1, 0, 2},      // a cap below k: one row or column at a time
        {4, 37, 5, 3, 0, 100},   // B: aligned tiles of 16, 16, 5; A: all three matrices in one step
        {3, 4, 5, 5, 0, 45},     // whole matrices, two or three per step, the last group partial
        {3, 6, 4, 3, 1, 8},      // a broadcast weight in tiles, each multiplied for the whole batch
        {6, 3, 4, 4, 1, 1000},   // a broadcast weight widened once
    };

    @Test
    void tilesTogetherGiveTheRowMajorProductForEitherWeightAndEveryTransposePair() {
        Random rnd = new Random(11);
        for (int[] c : CASES) {
            for (boolean weightIsB : new boolean[]{true, false}) {
                for (boolean transA : new boolean[]{false, true}) {
                    for (boolean transB : new boolean[]{false, true}) {
                        checkCase(rnd, c[0], c[1], c[2], c[3], c[4] == 1, c[5], weightIsB, transA, transB);
                    }
                }
            }
        }
    }

    private static void checkCase(Random rnd, int m, int n, int k, int batch, boolean broadcast, int cap,
                                  boolean weightIsB, boolean transA, boolean transB) {
        long strideA = weightIsB || !broadcast ? (long) m * k + 2 : 0;
        long strideB = !weightIsB || !broadcast ? (long) k * n + 1 : 0;
        long strideC = (long) m * n + 3;
        Gemm g = new Gemm(batch, m, n, k, transA, transB, strideA, strideB, strideC, 0.75f, -0.5f);
        double[] a = ColumnMajorGemmTest.random(rnd, (int) (strideA * (batch - 1) + (long) m * k));
        double[] b = ColumnMajorGemmTest.random(rnd, (int) (strideB * (batch - 1) + (long) k * n));
        double[] c = ColumnMajorGemmTest.random(rnd, (int) (strideC * batch));
        String what = "m=" + m + " n=" + n + " k=" + k + " batch=" + batch + (broadcast ? " broadcast" : "")
                + " cap=" + cap + " weight " + (weightIsB ? "B" : "A") + " transA=" + transA + " transB=" + transB;

        WidenedWeightGemm plan = WidenedWeightGemm.plan(g, weightIsB, cap);
        double[] expected = ColumnMajorGemmTest.rowMajor(g, a, b, c.clone());
        double[] actual = c.clone();
        long largest = 0;
        for (WidenedWeightGemm.Step step : plan.steps()) {
            assertTrue(step.widened() <= Math.max(cap, k), what + ": a step widens " + step.widened() + " elements");
            largest = Math.max(largest, step.widened());
            assertWithinCublasBounds(step.gemm(), what);
            double[] scratch = widen(weightIsB ? b : a, step, plan.scratch());
            double[] operand = weightIsB ? a : b;
            if (weightIsB) {
                ColumnMajorGemmTest.columnMajorCublasModel(step.gemm(), g.alpha(), g.beta(), scratch, 0, operand,
                        step.floatOffset(), actual, step.cOffset());
            } else {
                ColumnMajorGemmTest.columnMajorCublasModel(step.gemm(), g.alpha(), g.beta(), operand,
                        step.floatOffset(), scratch, 0, actual, step.cOffset());
            }
        }
        assertEquals(largest, plan.scratch(), what + ": the scratch is the largest step's");
        assertArrayEquals(expected, actual, 0, what);
    }

    /** The widening kernel's work, as its comment defines it, into a scratch of {@code size} (NaN beyond). */
    private static double[] widen(double[] weight, WidenedWeightGemm.Step step, long size) {
        double[] scratch = new double[(int) size];
        Arrays.fill(scratch, Double.NaN);
        int at = 0;
        for (int j = 0; j < step.matrices(); j++) {
            for (int r = 0; r < step.runs(); r++) {
                for (int i = 0; i < step.runLength(); i++) {
                    scratch[at++] = weight[(int) (step.weightOffset() + j * step.matrixStride() + r * step.runStride() + i)];
                }
            }
        }
        return scratch;
    }

    private static void assertWithinCublasBounds(ColumnMajorGemm cm, String what) {
        assertTrue(cm.ldFirst() >= Math.max(1, cm.transFirst() ? cm.k() : cm.m()), what + ": lda of " + cm);
        assertTrue(cm.ldSecond() >= Math.max(1, cm.transSecond() ? cm.n() : cm.k()), what + ": ldb of " + cm);
        assertTrue(cm.ldc() >= Math.max(1, cm.m()), what + ": ldc of " + cm);
    }

    @Test
    void aGpt2LmHeadIsWidenedInThreeAlignedTilesOfAtMost64MiB() {
        long cap = CudaBackend.WIDEN_TILE_BYTES / Float.BYTES;
        // logits (T, vocab) = x (T, dim) · wteᵀ, wte (vocab, dim) the BF16 weight
        WidenedWeightGemm plan = WidenedWeightGemm.plan(Gemm.of(512, 50257, 768, false, true), true, cap);
        assertEquals(3, plan.steps().size());
        assertEquals(21840, plan.steps().get(0).gemm().m(), "tile width: 16M floats / 768, down to a multiple of 16");
        assertEquals(21840L * 768, plan.scratch());
        assertEquals(21840, plan.steps().get(1).cOffset(), "the second tile writes C from column 21840");
        assertEquals(50257 - 2 * 21840, plan.steps().get(2).gemm().m(), "the last tile takes the rest");
    }

    @Test
    void emptyProductsAndBadCapsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> WidenedWeightGemm.plan(Gemm.of(2, 2, 0, false, false), true, 8));
        assertThrows(IllegalArgumentException.class, () -> WidenedWeightGemm.plan(Gemm.of(2, 2, 2, false, false), true, 0));
    }
}
