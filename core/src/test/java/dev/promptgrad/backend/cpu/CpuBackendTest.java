package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

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
        assertEquals(new CpuBackend.Options(cores, cores), CpuBackend.Options.defaults());
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
}
