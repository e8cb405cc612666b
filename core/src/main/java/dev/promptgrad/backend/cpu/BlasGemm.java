package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.Gemm;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;

import java.nio.FloatBuffer;

/**
 * The CPU backend's matrix products: every one is an OpenBLAS {@code cblas_sgemm} call (row-major, positioned
 * pointers for view offsets). It loads the natives, owns OpenBLAS's process-wide thread count and decides how a
 * strided batch is split between Java threads and OpenBLAS threads (the rule is on {@link CpuBackend}).
 * It checks no arguments; {@link CpuBackend#gemm} does.
 */
final class BlasGemm {

    /**
     * Per-matrix multiply-adds (m·n·k) up to which OpenBLAS runs a product on one thread whatever its thread
     * count: its SMP_THRESHOLD_MIN (65536) times GEMM_MULTITHREAD_THRESHOLD (4 in this build). Only such
     * products are spread over the Java pool, so OpenBLAS and Java threads never compete for cores.
     */
    static final long SINGLE_THREADED_PRODUCT = 1L << 18;

    /** Multiply-adds a whole batch needs before spreading it pays for the hand-off (about 50 µs of work). */
    static final long MIN_SPREAD_WORK = 1L << 22;

    /** OpenBLAS's thread count is one per process: GEMMs of all backends take turns under this lock. */
    private static final Object BLAS_LOCK = new Object();

    private final int blasThreads;
    private final ParallelRows parallel;

    BlasGemm(int blasThreads, ParallelRows parallel) {
        loadNatives();
        this.blasThreads = blasThreads;
        this.parallel = parallel;
    }

    /** Loads OpenBLAS through JavaCPP, turning a missing native library into an error that says what to add. */
    static void loadNatives() {
        try {
            Loader.load(openblas.class);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            throw new IllegalStateException("the CPU backend could not load OpenBLAS for platform '"
                    + Loader.getPlatform() + "': the jar org.bytedeco:openblas:<version>:" + Loader.getPlatform()
                    + " (and javacpp's of the same platform) must be on the class path. Build with"
                    + " -Djavacpp.platform=<os-arch> (e.g. linux-x86_64, linux-arm64, macosx-arm64) matching this"
                    + " machine, or select the natives at run time with -Dorg.bytedeco.javacpp.platform=<os-arch>",
                    e);
        }
    }

    /**
     * {@code C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b]} for every b, with A, B and C starting at the
     * given element offsets of their buffers.
     */
    void run(Gemm g, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset, CpuBuffer c, long cOffset) {
        int m = g.m(), n = g.n(), k = g.k();
        if (m == 0 || n == 0) return;
        if (k == 0) {
            scaleC(g, c, cOffset);
            return;
        }
        long perMatrix = (long) m * n * k;
        boolean spread = g.batch() > 1 && parallel.threads() > 1 && perMatrix <= SINGLE_THREADED_PRODUCT
                && perMatrix * g.batch() >= MIN_SPREAD_WORK;
        synchronized (BLAS_LOCK) {
            // openblas_set_num_threads took ~400 µs a call when measured: call it only when another backend
            // in this process left a different count
            if (openblas.blas_get_num_threads() != blasThreads) openblas.blas_set_num_threads(blasThreads);
            if (spread) {
                parallel.forEveryRow(g.batch(), (from, to) -> {
                    for (int i = from; i < to; i++) product(g, i, a, aOffset, b, bOffset, c, cOffset);
                });
            } else {
                for (int i = 0; i < g.batch(); i++) product(g, i, a, aOffset, b, bOffset, c, cOffset);
            }
        }
    }

    private static void product(Gemm g, int i, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset,
                                CpuBuffer c, long cOffset) {
        FloatPointer ai = a.pointerAt(aOffset + i * g.strideA());
        FloatPointer bi = b.pointerAt(bOffset + i * g.strideB());
        FloatPointer ci = c.pointerAt(cOffset + i * g.strideC());
        openblas.cblas_sgemm(openblas.CblasRowMajor,
                g.transA() ? openblas.CblasTrans : openblas.CblasNoTrans,
                g.transB() ? openblas.CblasTrans : openblas.CblasNoTrans,
                g.m(), g.n(), g.k(), g.alpha(), ai, g.lda(), bi, g.ldb(), g.beta(), ci, g.ldc());
    }

    /** k = 0: the products are empty sums, so C = beta · C (zeros when beta is 0, whatever C held). */
    private static void scaleC(Gemm g, CpuBuffer c, long cOffset) {
        FloatBuffer cf = c.floats();
        int size = g.m() * g.n();
        for (int i = 0; i < g.batch(); i++) {
            int base = Math.toIntExact(cOffset + i * g.strideC());
            for (int j = base; j < base + size; j++) cf.put(j, g.beta() == 0 ? 0f : g.beta() * cf.get(j));
        }
    }
}
