package dev.promptgrad.bench;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * sgemm through the CPU backend at GPT-2-small training shapes: C[M, N] = A[M, K] · B[K, N] for the
 * projections (768×768, 768×2304, 768×3072, 3072×768) and the LM head (768×50257), M = 512 or 1024 rows.
 * Time per product; {@link BenchmarkReport} turns it into GFLOP/s (2·M·N·K per product).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class GemmBenchmark {

    /** Rows of the activation matrix: batch × positions. */
    @Param({"512", "1024"})
    public int m;

    /** K×N of the weight. */
    @Param({"768x768", "768x2304", "768x3072", "3072x768", "768x50257"})
    public String shape;

    private Backend backend;
    private Scope scope;
    private Tensor a;   // (m, k)
    private Tensor b;   // (k, n)
    private Tensor c;   // (m, n)
    private Gemm gemm;

    @Setup(Level.Trial)
    public void setUp() {
        int k = Integer.parseInt(shape.split("x")[0]);
        int n = Integer.parseInt(shape.split("x")[1]);
        backend = new CpuBackend();
        scope = new Scope(backend, "gemm");
        a = scope.of(random(m * k, 1), m, k);
        b = scope.of(random(k * n, 2), k, n);
        c = scope.allocate(m, n);
        gemm = Gemm.of(m, n, k, false, false);
    }

    @Benchmark
    public Tensor sgemm() {
        backend.gemm(gemm, a, b, c);
        return c;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        scope.close();
        backend.close();
    }

    /** 2·M·N·K for this trial's shape. */
    public static long flops(int m, String shape) {
        long k = Long.parseLong(shape.split("x")[0]);
        long n = Long.parseLong(shape.split("x")[1]);
        return 2 * m * n * k;
    }

    static float[] random(int size, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] values = new float[size];
        for (int i = 0; i < size; i++) values[i] = (float) (random.nextDouble() * 2 - 1) * 0.05f;
        return values;
    }
}
