package dev.promptgrad.cuda;

import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the contract suite does not cover and only a GPU can show: TF32 as an explicit option (with a BF16 weight
 * too), NVRTC's log in a compilation error, the caching allocator's reuse and peaks on a device, the bounded scratch
 * of a BF16 weight widened in tiles, thread switches, close, and a GPT-2-sized cross-entropy. Skipped, with the
 * reason, where no GPU is usable.
 */
@ExtendWith(RequiresCuda.class)
class CudaBackendTest {

    private static float[] random(int n, long seed) {
        Random rnd = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextDouble() * 2 - 1);
        return v;
    }

    private static double maxRelativeError(float[] actual, double[] expected) {
        double scale = 0, worst = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
        return worst;
    }

    @Test
    void tf32IsAnExplicitOptionThatOnlyLoosensMatrixProducts() {
        int m = 256, n = 256, k = 1024;
        float[] a = random(m * k, 1), b = random(k * n, 2);
        double[] exact;
        try (ReferenceBackend reference = new ReferenceBackend(); Scope s = new Scope(reference, "exact")) {
            Tensor c = s.allocate(m, n);
            reference.gemm(Gemm.of(m, n, k, false, false), s.of(a, m, k), s.of(b, k, n), c);
            exact = reference.downloadDouble(c);
        }
        float[] fp32 = product(new CudaBackend(new CudaBackend.Options(0, false, false)), a, b, m, n, k);
        float[] tf32 = product(new CudaBackend(new CudaBackend.Options(0, true, false)), a, b, m, n, k);
        assertTrue(maxRelativeError(fp32, exact) < 1e-5, "float32 GEMM error " + maxRelativeError(fp32, exact));
        double tf32Error = maxRelativeError(tf32, exact);
        assertTrue(tf32Error < 2e-2, "TF32 GEMM error " + tf32Error);
        assertTrue(tf32Error > maxRelativeError(fp32, exact), "TF32 should round inputs to 10 mantissa bits (error "
                + tf32Error + "); did cublasSetMathMode take effect?");
    }

    @Test
    void tf32WithABf16WeightLoosensTheProductAsMuchAsWithFloatWeights() {
        int m = 64, n = 256, k = 1024;
        float[] x = random(m * k, 4), w = random(n * k, 5);
        Gemm g = Gemm.of(m, n, k, false, true);   // x · wᵀ, w (n, k) a BF16 weight
        double[] exact;
        try (ReferenceBackend reference = new ReferenceBackend(); Scope s = new Scope(reference, "exact")) {
            Tensor c = s.allocate(m, n);
            reference.gemm(g, s.of(x, m, k), bf16(s, w, n, k), c);
            exact = reference.downloadDouble(c);
        }
        float[] fp32 = weightProduct(new CudaBackend(new CudaBackend.Options(0, false, false)), g, x, w);
        float[] tf32 = weightProduct(new CudaBackend(new CudaBackend.Options(0, true, false)), g, x, w);
        assertTrue(maxRelativeError(fp32, exact) < 1e-5, "float32 GEMM error " + maxRelativeError(fp32, exact));
        double tf32Error = maxRelativeError(tf32, exact);
        assertTrue(tf32Error < 2e-2, "TF32 GEMM error with a BF16 weight " + tf32Error);
        assertTrue(tf32Error > maxRelativeError(fp32, exact), "TF32 should round the float operand to 10 mantissa bits"
                + " (error " + tf32Error + ")");
    }

    private static float[] weightProduct(CudaBackend backend, Gemm g, float[] x, float[] w) {
        try (backend; Scope s = new Scope(backend, "gemm")) {
            Tensor c = s.allocate(g.m(), g.n());
            backend.gemm(g, s.of(x, g.m(), g.k()), bf16(s, w, g.n(), g.k()), c);
            return backend.download(c);
        }
    }

    /** {@code values} rounded to a BF16 tensor of the scope's backend. */
    private static Tensor bf16(Scope s, float[] values, int... shape) {
        Tensor t = s.allocate(DType.BF16, shape);
        s.backend().upload(values, t);
        return t;
    }

    /**
     * A BF16 weight of 12 800 elements (50 KiB as floats) under a 16 KiB widening cap: each product is right, the
     * scratch never exceeds one tile, and it is back in the allocator's cache when gemm returns. Shapes: the weight as
     * B (transposed, like an LM head), as A (transposed), and a batch of BF16 A matrices at a padded stride.
     */
    @Test
    void aBf16WeightLargerThanOneTileIsWidenedInBoundedScratchThatIsGivenBack() {
        long cap = 16 << 10;
        int k = 64, kept = 200, m = 9;
        Gemm[] gemms = {
            Gemm.of(m, kept, k, false, true),                                                       // x · Wᵀ
            Gemm.of(kept, m, k, true, false),                                                       // Wᵀ · x
            new Gemm(3, kept, m, k, false, false, (long) kept * k + 5, (long) k * m, (long) kept * m, 1f, 0f),
        };
        boolean[] weightIsB = {true, false, false};
        try (CudaBackend cuda = new CudaBackend(CudaBackend.Options.defaults(), cap);
             ReferenceBackend reference = new ReferenceBackend()) {
            for (int i = 0; i < gemms.length; i++) {
                Gemm g = gemms[i];
                int weightSize = (int) ((g.batch() - 1) * (weightIsB[i] ? g.strideB() : g.strideA()) + (long) kept * k);
                int operandSize = g.batch() * m * k;
                float[] w = random(weightSize, 10 + i), x = random(operandSize, 20 + i);
                double[] expected;
                try (Scope s = new Scope(reference, "exact")) {
                    Tensor c = s.allocate(g.batch() * g.m() * g.n());
                    Tensor weight = bf16(s, w, weightSize), operand = s.of(x, operandSize);
                    reference.gemm(g, weightIsB[i] ? operand : weight, weightIsB[i] ? weight : operand, c);
                    expected = reference.downloadDouble(c);
                }
                try (Scope s = new Scope(cuda, "tiled")) {
                    Tensor c = s.allocate(g.batch() * g.m() * g.n());
                    Tensor weight = bf16(s, w, weightSize), operand = s.of(x, operandSize);
                    cuda.synchronize();
                    cuda.releaseCachedMemory();
                    cuda.resetPeakMemory();
                    long live = cuda.liveBytes(), reserved = cuda.reservedBytes();
                    cuda.gemm(g, weightIsB[i] ? operand : weight, weightIsB[i] ? weight : operand, c);
                    float[] actual = cuda.download(c);
                    String what = g + " with a BF16 " + (weightIsB[i] ? "B" : "A");
                    assertTrue(maxRelativeError(actual, expected) < 1e-5, what + ": error " + maxRelativeError(actual, expected));
                    assertEquals(live, cuda.liveBytes(), what + ": live bytes");
                    long scratch = cuda.peakReservedBytes() - reserved;
                    assertTrue(scratch > 0 && scratch <= CachingAllocator.sizeClass(cap), what + ": " + scratch
                            + " bytes of scratch for a cap of " + cap + " (the whole weight would take "
                            + 4L * kept * k + ")");
                    assertTrue(cuda.releaseCachedMemory() >= scratch, what + ": the scratch went back to the cache");
                    assertEquals(reserved, cuda.reservedBytes(), what + ": nothing but the tensors is still reserved");
                }
            }
        }
    }

    private static float[] product(CudaBackend backend, float[] a, float[] b, int m, int n, int k) {
        try (backend; Scope s = new Scope(backend, "gemm")) {
            Tensor c = s.allocate(m, n);
            backend.gemm(Gemm.of(m, n, k, false, false), s.of(a, m, k), s.of(b, k, n), c);
            return backend.download(c);
        }
    }

    @Test
    void anNvrtcCompilationErrorCarriesTheCompilerLog() {
        CudaAvailability.Report report = CudaAvailability.probe();
        CompileTarget target = CompileTarget.forDevice(report.major(), report.minor(), NvrtcCompiler.supportedArchitectures());
        KernelCompilationException e = assertThrows(KernelCompilationException.class, () -> NvrtcCompiler.compile(
                "broken.cu", "extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }", Map.of(), target));
        assertTrue(e.log().contains("undefined_name"), e.log());
        assertTrue(e.getMessage().contains("broken.cu for " + target.name()), e.getMessage());
        assertEquals(6, e.status(), "NVRTC_ERROR_COMPILATION");
    }

    @Test
    void releasedBlocksAreReusedAndPeaksTracked() {
        try (CudaBackend cuda = new CudaBackend()) {
            long reservedBefore;
            try (Scope s = new Scope(cuda, "first")) {
                s.allocate(1 << 20);
                reservedBefore = cuda.reservedBytes();
                assertEquals(4L << 20, cuda.liveBytes());
            }
            assertEquals(0, cuda.liveBytes());
            try (Scope s = new Scope(cuda, "second")) {
                s.allocate(1 << 20);
                assertEquals(reservedBefore, cuda.reservedBytes(), "the same size class comes from the cache");
            }
            assertEquals(4L << 20, cuda.peakLiveBytes());
            assertTrue(cuda.releaseCachedMemory() >= 4L << 20);
            assertEquals(0, cuda.reservedBytes());
            cuda.resetPeakMemory();
            assertEquals(0, cuda.peakLiveBytes());
        }
    }

    @Test
    void anotherThreadCanDriveTheBackend() throws Exception {
        ExecutorService other = Executors.newSingleThreadExecutor();
        try (CudaBackend cuda = new CudaBackend(); Scope s = new Scope(cuda, "threads")) {
            Tensor x = s.of(new float[]{-1, 0, 2}, 3);
            Tensor out = s.allocate(3);
            Future<float[]> result = other.submit(() -> {
                cuda.unary(UnaryOp.SILU, x, out);
                return cuda.download(out);
            });
            float[] silu = result.get();
            assertEquals((float) UnaryOp.SILU.apply(2), silu[2], 1e-6f);
            assertArrayEquals(silu, cuda.download(out), "the result is visible on the first thread");
        } finally {
            other.shutdown();
        }
    }

    @Test
    void aClosedBackendRefusesWorkAndForeignTensorsAreRefused() {
        CudaBackend cuda = new CudaBackend();
        Scope s = new Scope(cuda, "closing");
        Tensor t = s.allocate(4);
        try (CpuBackend cpu = new CpuBackend(new CpuBackend.Options(1, 1)); Scope host = new Scope(cpu, "host")) {
            IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class,
                    () -> cuda.fill(host.allocate(4), 1));
            assertTrue(foreign.getMessage().contains("allocated by another backend"), foreign.getMessage());
        }
        cuda.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> cuda.fill(t, 1));
        assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
        s.close();
        assertEquals(0, cuda.liveBytes());
    }

    @Test
    void crossEntropyOverAGpt2VocabularyMatchesTheCpu() {
        int rows = 6, vocab = 50257;
        float[] logits = random(rows * vocab, 3);
        for (int i = 0; i < logits.length; i++) logits[i] *= 12;
        int[] targets = {5, -100, 50256, 0, 31337, 7};
        try (CudaBackend cuda = new CudaBackend(); CpuBackend cpu = new CpuBackend(new CpuBackend.Options(1, 1));
             Scope g = new Scope(cuda, "gpu"); Scope h = new Scope(cpu, "cpu")) {
            Tensor dGpu = g.allocate(rows, vocab), dCpu = h.allocate(rows, vocab);
            double lossGpu = cuda.crossEntropy(g.of(logits, rows, vocab), targets, 0.2, dGpu);
            double lossCpu = cpu.crossEntropy(h.of(logits, rows, vocab), targets, 0.2, dCpu);
            assertEquals(lossCpu, lossGpu, 1e-9 * Math.abs(lossCpu));
            float[] a = cuda.download(dGpu), b = cpu.download(dCpu);
            for (int i = 0; i < a.length; i++) assertEquals(b[i], a[i], 1e-7 + 1e-5 * Math.abs(b[i]), "dLogits " + i);
        }
    }
}
