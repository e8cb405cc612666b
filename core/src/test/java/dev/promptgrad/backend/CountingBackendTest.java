package dev.promptgrad.backend;

import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The counting decorator counts each call once, sums GEMM FLOPs, tracks the live-byte peak, resets, and leaves results unchanged. */
class CountingBackendTest {

    @Test
    void countsCallsAndGemmFlopsAndDelegatesTheWork() {
        try (CountingBackend backend = new CountingBackend(new ReferenceBackend());
             Scope scope = new Scope(backend, "counting")) {
            Tensor a = scope.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor b = scope.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
            Tensor c = scope.allocate(2, 2);
            Gemm product = Gemm.of(2, 2, 3, false, false);
            backend.gemm(product, a, b, c);
            backend.gemm(product.scaled(1f, 1f), a, b, c);
            backend.add(c, c, c);

            assertArrayEquals(new float[] {16, 20, 40, 44}, backend.download(c));
            assertEquals(2, backend.gemmCalls());
            assertEquals(2 * product.flops(), backend.gemmFlops());
            assertEquals(List.of(product, product.scaled(1f, 1f)), backend.gemms());
            assertEquals(1, backend.calls("add"));
            assertEquals(3, backend.calls("upload") + backend.calls("download"));
            assertEquals("counting(" + backend.delegate().name() + ")", backend.name());

            backend.reset();
            assertEquals(0, backend.gemmCalls());
            assertEquals(0, backend.gemmFlops());
            assertEquals(0, backend.calls("add"));
            assertEquals(backend.delegate().liveBytes(), backend.liveBytes());
        }
    }

    @Test
    void peakLiveBytesIsTheMostEverLiveAndRestartsAtReset() {
        try (CountingBackend backend = new CountingBackend(new ReferenceBackend());
             Scope kept = new Scope(backend, "kept")) {
            kept.allocate(10);                                   // 40 bytes as F32
            try (Scope shortLived = new Scope(backend, "transient")) {
                shortLived.allocate(100);
                shortLived.allocate(50);
            }
            assertEquals(40, backend.liveBytes());
            assertEquals(40 + 400 + 200, backend.peakLiveBytes(), "the peak outlives the scope that made it");
            backend.reset();
            assertEquals(40, backend.peakLiveBytes(), "after reset the peak is what is live");
            try (Scope again = new Scope(backend, "again")) {
                again.allocate(5);
            }
            assertEquals(60, backend.peakLiveBytes());
        }
    }
}
