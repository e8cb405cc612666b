package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.Gemm;
import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.tensor.DType;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

/**
 * The CPU backend's matrix products: each is an OpenBLAS {@code cblas_sgemm} call (row-major, positioned pointers
 * for view offsets), or {@code cblas_sgemv} for a single row of C, as in decoding one token, where sgemm would pack
 * the whole weight matrix to use it once (measured 3–4× slower). It loads the natives, owns OpenBLAS's process-wide
 * thread count and decides how a strided batch is split between Java threads and OpenBLAS threads (the rule is on
 * {@link CpuBackend}). A BF16 weight operand is widened to float32 tile by tile ({@link #runWidened}). It checks no
 * arguments; {@link CpuBackend#gemm} does.
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

    /**
     * How many of a blocked sgemm's multiply-adds one multiply-add of a single-row product costs: sgemv reads a weight
     * from memory for each (measured 0.33 ms for 1×768·768×3072, about 140 ps each, against about 4 ps in sgemm), so
     * single rows are spread over the Java pool from a 32nd of the work.
     */
    static final long ROW_PRODUCT_COST = 32;

    /** A product's k from which each chunk's full read of the shared operand dominates (see chunksPerThread). */
    static final int LONG_K = 8192;

    /** Column blocks a split GEMM hands out, so every thread's columns start on a 64-byte boundary. */
    static final int COLUMN_ALIGN = 16;

    /** Most floats one thread widens from a BF16 operand for one call of OpenBLAS: 4 MiB of scratch per thread. */
    static final int WIDEN_TILE = 1 << 20;

    /**
     * Rows of C per Java thread from which a product with a BF16 B [k, n] is tiled along k, each thread widening all
     * of B: at 32 rows the widening is a few percent of a thread's multiply-adds.
     */
    static final int ROWS_PER_WIDENING = 32;

    /** Words widened per step of a run, so the per-thread Java arrays stay small. */
    private static final int WIDEN_STEP = 4096;

    /** Each thread's widening scratch: {@code [0]} a native float array for OpenBLAS, grown on demand. */
    private static final ThreadLocal<FloatPointer[]> SCRATCH = ThreadLocal.withInitial(() -> new FloatPointer[1]);

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
        if (a.dtype() == DType.BF16 || b.dtype() == DType.BF16) {
            runWidened(g, a, aOffset, b, bOffset, c, cOffset);
            return;
        }
        long perMatrix = (long) m * n * k;
        int threads = parallel.threads();
        long work = perMatrix * g.batch() * (m == 1 ? ROW_PRODUCT_COST : 1);
        boolean javaThreads = threads > 1 && work >= MIN_SPREAD_WORK
                && (blasThreads == 1 || perMatrix <= SINGLE_THREADED_PRODUCT);
        synchronized (BLAS_LOCK) {
            // openblas_set_num_threads took ~400 µs a call when measured: call it only when another backend
            // in this process left a different count
            if (openblas.blas_get_num_threads() != blasThreads) openblas.blas_set_num_threads(blasThreads);
            if (!javaThreads) {
                for (int i = 0; i < g.batch(); i++) product(g, i, a, aOffset, b, bOffset, c, cOffset, 0, m, 0, n);
            } else if (g.batch() >= threads || blasThreads > 1) {
                parallel.forEveryRow(g.batch(), (from, to) -> {
                    for (int i = from; i < to; i++) product(g, i, a, aOffset, b, bOffset, c, cOffset, 0, m, 0, n);
                });
            } else if (m <= n) {
                // split C's columns: each chunk reads all of A (the smaller operand) and its own columns of B
                int blocks = (n + COLUMN_ALIGN - 1) / COLUMN_ALIGN;
                for (int i = 0; i < g.batch(); i++) {
                    int matrix = i;
                    parallel.forEveryRow(blocks, chunksPerThread(k), (from, to) -> product(g, matrix, a, aOffset, b,
                            bOffset, c, cOffset, 0, m, from * COLUMN_ALIGN, Math.min(n, to * COLUMN_ALIGN)));
                }
            } else {
                // split C's rows: each chunk reads its own rows of A and all of B (the smaller operand)
                for (int i = 0; i < g.batch(); i++) {
                    int matrix = i;
                    parallel.forEveryRow(m, chunksPerThread(k), (from, to) -> product(g, matrix, a, aOffset, b,
                            bOffset, c, cOffset, from, to, 0, n));
                }
            }
        }
    }

    /**
     * A product whose A or B is a BF16 weight (never both): the weight is widened to float32 in tiles of at most
     * {@link #WIDEN_TILE} elements, each in its thread's scratch, and each tile goes to one {@code cblas_sgemm} (or
     * {@code cblas_sgemv} for a single row of C) with leading dimensions that address the tile's slice of the
     * operands in place. Two tilings:
     * <ul>
     *   <li>along k, when B [k, n] is the weight and C has many rows (a backward product through an output layer,
     *       k = vocab): C's rows are split between the Java threads, and each thread walks B in contiguous row
     *       blocks, C += A[:, k0:k1] · B[k0:k1, :] (the first block with the caller's beta). Each thread widens all
     *       of B once, small against its rows' share of the multiply-adds;</li>
     *   <li>along the weight's kept dimension otherwise (C's columns when B is the weight, its rows when A is): tiles
     *       are split between the Java threads, each widening only its own slice, so a single row of C (decoding
     *       one token) reads the weight once in all.</li>
     * </ul>
     */
    private void runWidened(Gemm g, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset, CpuBuffer c, long cOffset) {
        boolean weightIsB = b.dtype() == DType.BF16;
        int threads = parallel.threads();
        long work = (long) g.m() * g.n() * g.k() * g.batch() * (g.m() == 1 ? ROW_PRODUCT_COST : 1);
        boolean javaThreads = threads > 1 && blasThreads == 1 && work >= MIN_SPREAD_WORK;
        boolean alongK = weightIsB && !g.transB() && g.m() >= ROWS_PER_WIDENING * threads;
        synchronized (BLAS_LOCK) {
            if (openblas.blas_get_num_threads() != blasThreads) openblas.blas_set_num_threads(blasThreads);
            for (int i = 0; i < g.batch(); i++) {
                int matrix = i;
                if (alongK) {
                    ParallelRows.Body rows = (from, to) -> rowsTimesWeightBlocks(g, matrix, a, aOffset, b, bOffset, c,
                            cOffset, from, to);
                    if (javaThreads) {
                        parallel.forEveryRow(g.m(), 1, rows);
                    } else {
                        rows.run(0, g.m());
                    }
                    continue;
                }
                int kept = weightIsB ? g.n() : g.m();   // the weight's dimension that C keeps
                int width = Math.max(1, Math.min(WIDEN_TILE / g.k(), ceilDiv(kept, javaThreads ? 2 * threads : 1)));
                if (width > COLUMN_ALIGN) width = Math.min(kept, ceilDiv(width, COLUMN_ALIGN) * COLUMN_ALIGN);
                int tileWidth = width, tiles = ceilDiv(kept, width);
                ParallelRows.Body body = (from, to) -> {
                    for (int t = from; t < to; t++) {
                        int start = t * tileWidth, end = Math.min(kept, start + tileWidth);
                        if (weightIsB) {
                            columnsTimesWeight(g, matrix, a, aOffset, b, bOffset, c, cOffset, start, end);
                        } else {
                            weightRowsTimes(g, matrix, a, aOffset, b, bOffset, c, cOffset, start, end);
                        }
                    }
                };
                if (javaThreads) {
                    parallel.forEveryRow(tiles, body);
                } else {
                    body.run(0, tiles);
                }
            }
        }
    }

    /**
     * Rows [m0, m1) of {@code C[i] = alpha · op(A[i]) · B[i] + beta · C[i]} for a BF16 B [k, n], walking B in blocks
     * of whole rows: {@code C[m0:m1] (+)= alpha · op(A)[m0:m1, k0:k1] · B[k0:k1, :]}.
     */
    private static void rowsTimesWeightBlocks(Gemm g, int i, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset,
                                              CpuBuffer c, long cOffset, int m0, int m1) {
        if (m1 <= m0) return;
        int n = g.n(), k = g.k(), block = Math.max(1, WIDEN_TILE / n);
        long aStart = aOffset + i * g.strideA(), bStart = bOffset + i * g.strideB();
        FloatPointer y = c.pointerAt(cOffset + i * g.strideC() + (long) m0 * g.ldc());
        for (int k0 = 0; k0 < k; k0 += block) {
            int kt = Math.min(block, k - k0);
            FloatPointer w = widen(b, bStart + (long) k0 * n, n, 1, kt * n);   // B[k0:k0+kt, :], [kt, n]
            // element (m0, k0) of op(A): row m0, column k0 of A, or row k0, column m0 of the stored Aᵀ
            long aAt = aStart + (g.transA() ? (long) k0 * g.lda() + m0 : (long) m0 * g.lda() + k0);
            openblas.cblas_sgemm(openblas.CblasRowMajor, g.transA() ? openblas.CblasTrans : openblas.CblasNoTrans,
                    openblas.CblasNoTrans, m1 - m0, n, kt, g.alpha(), a.pointerAt(aAt), g.lda(), w, n,
                    k0 == 0 ? g.beta() : 1f, y, g.ldc());
        }
    }

    /** Columns [n0, n1) of {@code C[i] = alpha · op(A[i]) · op(B[i]) + beta · C[i]} for a BF16 B. */
    private static void columnsTimesWeight(Gemm g, int i, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset,
                                           CpuBuffer c, long cOffset, int n0, int n1) {
        int nt = n1 - n0, k = g.k();
        long bStart = bOffset + i * g.strideB();
        FloatPointer w;   // op(B)'s columns [n0, n1): stored [nt, k] when transB, else [k, nt]
        if (g.transB()) {
            w = widen(b, bStart + (long) n0 * k, k, 1, nt * k);
        } else {
            w = widen(b, bStart + n0, g.n(), k, nt);
        }
        int ldw = g.transB() ? k : nt;
        FloatPointer x = a.pointerAt(aOffset + i * g.strideA());
        FloatPointer y = c.pointerAt(cOffset + i * g.strideC() + n0);
        if (g.m() == 1) {
            int incx = g.transA() ? g.lda() : 1;
            if (g.transB()) {
                openblas.cblas_sgemv(openblas.CblasRowMajor, openblas.CblasNoTrans, nt, k, g.alpha(), w, ldw, x, incx,
                        g.beta(), y, 1);
            } else {
                openblas.cblas_sgemv(openblas.CblasRowMajor, openblas.CblasTrans, k, nt, g.alpha(), w, ldw, x, incx,
                        g.beta(), y, 1);
            }
            return;
        }
        openblas.cblas_sgemm(openblas.CblasRowMajor,
                g.transA() ? openblas.CblasTrans : openblas.CblasNoTrans,
                g.transB() ? openblas.CblasTrans : openblas.CblasNoTrans,
                g.m(), nt, k, g.alpha(), x, g.lda(), w, ldw, g.beta(), y, g.ldc());
    }

    /** Rows [m0, m1) of {@code C[i] = alpha · op(A[i]) · op(B[i]) + beta · C[i]} for a BF16 A. */
    private static void weightRowsTimes(Gemm g, int i, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset,
                                        CpuBuffer c, long cOffset, int m0, int m1) {
        int mt = m1 - m0, k = g.k();
        long aStart = aOffset + i * g.strideA();
        FloatPointer w;   // op(A)'s rows [m0, m1): stored [k, mt] when transA, else [mt, k]
        if (g.transA()) {
            w = widen(a, aStart + m0, g.m(), k, mt);
        } else {
            w = widen(a, aStart + (long) m0 * k, k, 1, mt * k);
        }
        int ldw = g.transA() ? mt : k;
        openblas.cblas_sgemm(openblas.CblasRowMajor,
                g.transA() ? openblas.CblasTrans : openblas.CblasNoTrans,
                g.transB() ? openblas.CblasTrans : openblas.CblasNoTrans,
                mt, g.n(), k, g.alpha(), w, ldw, b.pointerAt(bOffset + i * g.strideB()), g.ldb(), g.beta(),
                c.pointerAt(cOffset + i * g.strideC() + (long) m0 * g.ldc()), g.ldc());
    }

    /**
     * {@code runs} runs of {@code length} BF16 words, the r-th starting at element {@code start + r · stride} of
     * {@code weight}, widened back to back into this thread's scratch, which is returned.
     */
    private static FloatPointer widen(CpuBuffer weight, long start, long stride, int runs, int length) {
        FloatPointer[] slot = SCRATCH.get();
        long needed = (long) runs * length;
        if (slot[0] == null || slot[0].capacity() < needed) {
            if (slot[0] != null) slot[0].deallocate();
            slot[0] = new FloatPointer(Math.max(needed, WIDEN_STEP));
        }
        FloatBuffer out = slot[0].asBuffer();
        ShortBuffer words = weight.words();
        short[] raw = FloatKernels.words(WIDEN_STEP);
        float[] wide = FloatKernels.array(0, WIDEN_STEP);
        int written = 0;
        for (int r = 0; r < runs; r++) {
            long from = start + r * stride;
            for (int done = 0; done < length; done += WIDEN_STEP) {
                int step = Math.min(WIDEN_STEP, length - done);
                words.get(Math.toIntExact(from + done), raw, 0, step);
                HalfFloats.bf16ToFloats(raw, 0, wide, 0, step);
                out.put(written, wide, 0, step);
                written += step;
            }
        }
        return slot[0];
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /**
     * Chunks per thread of a split product: two, so a running thread can take over a paused one's second half, but
     * one when k is long, where every chunk reads a whole operand of k columns from memory (the LM head's backward,
     * k = vocab, reads 100 MiB of dLogits per chunk).
     */
    private static int chunksPerThread(int k) {
        return k >= LONG_K ? 1 : 2;
    }

    /** Rows [m0, m1) and columns [n0, n1) of {@code C[i] = alpha · op(A[i]) · op(B[i]) + beta · C[i]}. */
    private static void product(Gemm g, int i, CpuBuffer a, long aOffset, CpuBuffer b, long bOffset,
                                CpuBuffer c, long cOffset, int m0, int m1, int n0, int n1) {
        if (m1 <= m0 || n1 <= n0) return;
        // row m0 of op(A) starts m0 rows down A, or m0 columns across Aᵀ; column n0 of op(B) likewise
        long aStart = aOffset + i * g.strideA() + (g.transA() ? m0 : (long) m0 * g.lda());
        long bStart = bOffset + i * g.strideB() + (g.transB() ? (long) n0 * g.ldb() : n0);
        long cStart = cOffset + i * g.strideC() + (long) m0 * g.ldc() + n0;
        if (m1 - m0 == 1) {
            rowTimesMatrix(g, a.pointerAt(aStart), b.pointerAt(bStart), c.pointerAt(cStart), n1 - n0);
            return;
        }
        openblas.cblas_sgemm(openblas.CblasRowMajor,
                g.transA() ? openblas.CblasTrans : openblas.CblasNoTrans,
                g.transB() ? openblas.CblasTrans : openblas.CblasNoTrans,
                m1 - m0, n1 - n0, g.k(), g.alpha(), a.pointerAt(aStart), g.lda(), b.pointerAt(bStart), g.ldb(),
                g.beta(), c.pointerAt(cStart), g.ldc());
    }

    /**
     * One row of C, {@code y[:n] = alpha · x · op(B) + beta · y}, as a matrix-vector product that streams B once:
     * x is row 0 of op(A), contiguous, or column 0 of A (stride lda) when A is transposed. op(B) = B [k, n] gives
     * {@code y = Bᵀ·x} (sgemv Trans over B's k rows); op(B) = Bᵀ, B [n, k], gives {@code y = B·x} (NoTrans). With beta
     * 0, OpenBLAS's sgemv writes y without reading it, as sgemm does (the contract suite checks it over NaN).
     */
    private static void rowTimesMatrix(Gemm g, FloatPointer x, FloatPointer b, FloatPointer y, int n) {
        int incx = g.transA() ? g.lda() : 1;
        if (g.transB()) {
            openblas.cblas_sgemv(openblas.CblasRowMajor, openblas.CblasNoTrans, n, g.k(), g.alpha(), b, g.ldb(), x,
                    incx, g.beta(), y, 1);
        } else {
            openblas.cblas_sgemv(openblas.CblasRowMajor, openblas.CblasTrans, g.k(), n, g.alpha(), b, g.ldb(), x,
                    incx, g.beta(), y, 1);
        }
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
