package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the contract suite cannot say about the CPU backend: its options, its thread pool's lifetime and its row
 * splitting. Kernel results are checked against the reference in {@link CpuBackendContractTest}.
 */
class CpuBackendTest {

    @Test
    void optionsRejectZeroThreadsAndDefaultToTheProcessorCount() {
        assertThrows(IllegalArgumentException.class, () -> new CpuBackend.Options(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new CpuBackend.Options(1, 0));
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(new CpuBackend.Options(cores, 1), CpuBackend.Options.defaults());
        try (CpuBackend backend = new CpuBackend()) {
            assertEquals(CpuBackend.Options.defaults(), backend.options());
            assertEquals("cpu", backend.name());
        }
    }

    @Test
    void kernelsRefuseToRunAfterClose() {
        CpuBackend backend = new CpuBackend(new CpuBackend.Options(2, 1));
        Scope scope = new Scope(backend, "after close");
        Tensor x = scope.of(new float[]{1, 2, 3}, 3);
        backend.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> backend.unary(UnaryOp.SILU, x, x));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        scope.close();
        assertEquals(0, backend.liveBytes());
    }

    @Test
    void parallelRowsCoverEveryRowOnceAndRethrowWorkerFailures() {
        try (ParallelRows parallel = new ParallelRows(3)) {
            int rows = 100_000;
            int[] visits = new int[rows];
            parallel.forRows(rows, 10, (from, to) -> {
                for (int r = from; r < to; r++) visits[r]++;
            });
            int[] once = new int[rows];
            java.util.Arrays.fill(once, 1);
            assertArrayEquals(once, visits, "every row visited exactly once");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> parallel.forRows(rows, 10,
                    (from, to) -> {
                        if (from == 0) throw new IllegalStateException("first chunk failed");
                    }));
            assertEquals("first chunk failed", e.getMessage());
        }
    }

    /**
     * Products big enough for the Java pool to split one GEMM (m ≤ n: column blocks; m > n: row blocks), with
     * every transpose, alpha, beta and offset views, against the reference backend.
     */
    @Test
    void splitGemmsMatchTheReference() {
        try (CpuBackend cpu = new CpuBackend(CpuBackend.Options.withThreads(3));
             ReferenceBackend reference = new ReferenceBackend();
             Scope mine = new Scope(cpu, "split gemm");
             Scope oracle = new Scope(reference, "split gemm oracle")) {
            Random random = new Random(7);
            for (int[] mnk : new int[][]{{37, 301, 400}, {301, 37, 400}}) {
                int m = mnk[0], n = mnk[1], k = mnk[2];
                for (boolean transA : new boolean[]{false, true}) {
                    for (boolean transB : new boolean[]{false, true}) {
                        float[] a = values(random, m * k), b = values(random, k * n), c = values(random, m * n);
                        Gemm g = Gemm.of(m, n, k, transA, transB).scaled(0.5f, -1f);
                        Tensor ca = offsetCopy(mine, a, transA ? k : m, transA ? m : k);
                        Tensor cb = offsetCopy(mine, b, transB ? n : k, transB ? k : n);
                        Tensor cc = offsetCopy(mine, c, m, n);
                        cpu.gemm(g, ca, cb, cc);
                        Tensor ra = oracle.of(a, transA ? k : m, transA ? m : k);
                        Tensor rb = oracle.of(b, transB ? n : k, transB ? k : n);
                        Tensor rc = oracle.of(c, m, n);
                        reference.gemm(g, ra, rb, rc);
                        float[] expected = reference.download(rc), actual = cpu.download(cc);
                        for (int i = 0; i < expected.length; i++) {
                            assertEquals(expected[i], actual[i], 1e-4 * (1 + Math.abs(expected[i])),
                                    "split gemm " + m + "×" + n + "×" + k + " transA=" + transA + " transB=" + transB
                                            + ", element " + i);
                        }
                    }
                }
            }
        }
    }

    private static float[] values(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = random.nextFloat() * 2 - 1;
        return v;
    }

    /** {@code values} as a (rows, cols) view 5 elements into a bigger buffer. */
    private static Tensor offsetCopy(Scope scope, float[] values, int rows, int cols) {
        Tensor t = scope.allocate(values.length + 9).slice(5, 5 + values.length).view(rows, cols);
        scope.backend().upload(values, t);
        return t;
    }
}
