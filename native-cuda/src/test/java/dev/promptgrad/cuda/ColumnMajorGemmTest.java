package dev.promptgrad.cuda;

import dev.promptgrad.backend.Gemm;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The row-major → column-major mapping, checked without a GPU: a plain-Java model of cuBLAS's column-major
 * strided-batched SGEMM (as its documentation defines it), fed the mapped arguments, must produce exactly the
 * row-major product {@link Gemm} describes, for every transpose pair, padded batch strides and a broadcast operand;
 * and every leading dimension must satisfy cuBLAS's bounds.
 */
class ColumnMajorGemmTest {

    @Test
    void mappedColumnMajorProductEqualsTheRowMajorOneForEveryTransposePair() {
        Random rnd = new Random(7);
        int[][] sizes = {{1, 1, 1}, {3, 5, 2}, {5, 3, 7}, {1, 7, 4}, {6, 1, 3}, {4, 4, 1}};
        for (int[] mnk : sizes) {
            for (boolean transA : new boolean[]{false, true}) {
                for (boolean transB : new boolean[]{false, true}) {
                    int m = mnk[0], n = mnk[1], k = mnk[2], batch = 3;
                    // padded batch strides, and B broadcast (stride 0) when transB, to cover both
                    long strideA = (long) m * k + 2, strideB = transB ? 0 : (long) k * n + 1, strideC = (long) m * n + 3;
                    Gemm g = new Gemm(batch, m, n, k, transA, transB, strideA, strideB, strideC, 0.75f, -0.5f);
                    double[] a = random(rnd, (int) (strideA * batch));
                    double[] b = random(rnd, (int) (Math.max(strideB * (batch - 1), 0) + (long) k * n));
                    double[] c = random(rnd, (int) (strideC * batch));
                    double[] expected = rowMajor(g, a, b, c.clone());
                    double[] actual = columnMajorCublasModel(ColumnMajorGemm.of(g), g.alpha(), g.beta(), b, 0, a, 0,
                            c.clone(), 0);
                    assertArrayEquals(expected, actual, 0, "m=" + m + " n=" + n + " k=" + k + " transA=" + transA
                            + " transB=" + transB);
                }
            }
        }
    }

    @Test
    void leadingDimensionsSatisfyCublasBounds() {
        for (boolean transA : new boolean[]{false, true}) {
            for (boolean transB : new boolean[]{false, true}) {
                ColumnMajorGemm cm = ColumnMajorGemm.of(Gemm.of(3, 5, 7, transA, transB));
                // cuBLAS: lda ≥ max(1, transa ? k : m), ldb ≥ max(1, transb ? n : k), ldc ≥ max(1, m)
                assertTrue(cm.ldFirst() >= Math.max(1, cm.transFirst() ? cm.k() : cm.m()), "lda of " + cm);
                assertTrue(cm.ldSecond() >= Math.max(1, cm.transSecond() ? cm.n() : cm.k()), "ldb of " + cm);
                assertTrue(cm.ldc() >= Math.max(1, cm.m()), "ldc of " + cm);
            }
        }
    }

    @Test
    void bIsTheFirstOperandAndMAndNSwap() {
        ColumnMajorGemm cm = ColumnMajorGemm.of(new Gemm(4, 3, 5, 7, true, false, 21, 35, 15, 1, 0));
        assertEquals(new ColumnMajorGemm(false, true, 5, 3, 7, 5, 35, 3, 21, 5, 15, 4), cm);
    }

    /** C[b] = alpha·op(A[b])·op(B[b]) + beta·C[b], row-major, straight from Gemm's definition. */
    static double[] rowMajor(Gemm g, double[] a, double[] b, double[] c) {
        for (int batch = 0; batch < g.batch(); batch++) {
            for (int i = 0; i < g.m(); i++) {
                for (int j = 0; j < g.n(); j++) {
                    double sum = 0;
                    for (int p = 0; p < g.k(); p++) {
                        double aip = a[(int) (batch * g.strideA() + (g.transA() ? (long) p * g.m() + i : (long) i * g.k() + p))];
                        double bpj = b[(int) (batch * g.strideB() + (g.transB() ? (long) j * g.k() + p : (long) p * g.n() + j))];
                        sum += aip * bpj;
                    }
                    int at = (int) (batch * g.strideC() + (long) i * g.n() + j);
                    c[at] = g.alpha() * sum + g.beta() * c[at];
                }
            }
        }
        return c;
    }

    /**
     * cuBLAS's cublasSgemmStridedBatched as documented: column-major, element (r, s) of a matrix with leading
     * dimension ld at r + s·ld; C = alpha·op(X)·op(Y) + beta·C with op(X) m×k and op(Y) k×n. X, Y and C start at
     * elements {@code xAt}, {@code yAt} and {@code cAt} of their arrays (a pointer into a tensor).
     */
    static double[] columnMajorCublasModel(ColumnMajorGemm cm, double alpha, double beta, double[] x, long xAt,
                                           double[] y, long yAt, double[] c, long cAt) {
        for (int batch = 0; batch < cm.batch(); batch++) {
            long xBase = xAt + batch * cm.strideFirst(), yBase = yAt + batch * cm.strideSecond();
            long cBase = cAt + batch * cm.strideC();
            for (int r = 0; r < cm.m(); r++) {
                for (int s = 0; s < cm.n(); s++) {
                    double sum = 0;
                    for (int p = 0; p < cm.k(); p++) {
                        double xrp = x[(int) (xBase + (cm.transFirst() ? p + (long) r * cm.ldFirst() : r + (long) p * cm.ldFirst()))];
                        double yps = y[(int) (yBase + (cm.transSecond() ? s + (long) p * cm.ldSecond() : p + (long) s * cm.ldSecond()))];
                        sum += xrp * yps;
                    }
                    int at = (int) (cBase + r + (long) s * cm.ldc());
                    c[at] = alpha * sum + beta * c[at];
                }
            }
        }
        return c;
    }

    static double[] random(Random rnd, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextInt(17) - 8;   // small integers: every sum is exact
        return v;
    }
}
