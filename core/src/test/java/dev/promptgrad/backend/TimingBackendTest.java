package dev.promptgrad.backend;

import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The timing decorator counts each call of each kernel kind, sums GEMM FLOPs by shape, resets, and changes no result. */
class TimingBackendTest {

    @Test
    void timesEachKernelKindAndGemmShapeAndDelegatesTheWork() {
        try (TimingBackend backend = new TimingBackend(new ReferenceBackend());
             Scope scope = new Scope(backend, "timing")) {
            Tensor a = scope.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor b = scope.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
            Tensor c = scope.allocate(2, 2);
            Gemm product = Gemm.of(2, 2, 3, false, false);
            backend.gemm(product, a, b, c);
            backend.gemm(product.scaled(1f, 1f), a, b, c);
            backend.add(c, c, c);

            assertArrayEquals(new float[] {16, 20, 40, 44}, backend.download(c));
            assertEquals(2, backend.kernels().get("gemm").calls());
            assertEquals(1, backend.kernels().get("add").calls());
            assertEquals(2 * product.flops(), backend.gemmFlops());
            assertEquals(2, backend.gemmsByShape().get("1×2×2×3").calls());
            long sum = backend.kernels().values().stream().mapToLong(TimingBackend.Kernel::nanos).sum();
            assertEquals(sum, backend.totalNanos());
            assertTrue(backend.kernels().get("gemm").nanos() > 0, "a GEMM takes measurable time");
            assertEquals("timing(" + backend.delegate().name() + ")", backend.name());

            backend.reset();
            assertTrue(backend.kernels().isEmpty());
            assertTrue(backend.gemmsByShape().isEmpty());
            assertEquals(0, backend.gemmFlops());
            Tensor t = scope.allocate(3, 2);
            backend.gemm(Gemm.of(3, 2, 2, true, false), a.view(2, 3).slice(0, 2), b.slice(0, 2), t);
            assertEquals(1, backend.gemmsByShape().get("1×3×2×2 Aᵀ").calls());
        }
    }
}
