package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Erf;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.KernelContract;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The fast CPU backend: float32 tensors in native memory, matrix products in OpenBLAS, everything else in
 * multi-threaded Java loops over rows. It computes in F32 only ({@code supports(F64)} is false; BF16 weights are
 * stored and widened to float32 where a product or a gather reads them); float64 gradient checks use the reference
 * backend, which is also this backend's oracle in the contract suite.
 *
 * <h2>Threading</h2>
 * Kernels are synchronous: each returns when its result is written. Two kinds of threads do the work, never
 * at the same time within one call:
 * <ul>
 *   <li>{@link Options#threads()}: a fixed pool of Java threads (the calling thread plus {@code threads − 1}
 *       daemon workers) splits the rows of every non-GEMM kernel into contiguous chunks, four per thread, which the
 *       threads claim one by one (so on a busy machine a running thread takes over a paused one's chunks). Loops of
 *       fewer than about 32K element operations run inline on the caller.</li>
 *   <li>{@link Options#blasThreads()}: OpenBLAS's own threads, set with {@code openblas_set_num_threads}
 *       (through the preset's {@code blas_set_num_threads}). They run only inside {@link #gemm}, while the
 *       Java pool is idle.</li>
 * </ul>
 * With one OpenBLAS thread (the default) the Java pool splits the GEMMs too: a strided batch of at least
 * {@code threads} products is spread over the pool, one single-threaded {@code cblas_sgemm} per product; a single
 * product is cut into column blocks (when m ≤ n, so each block reads all of the smaller A) or row blocks (else),
 * two per thread (one when k ≥ 8192, where every block would read a long operand again), one call per block. Products under about 4M multiply-adds run whole on the caller. With more OpenBLAS threads,
 * products run one after another, each free to use all {@code blasThreads}, and only batches of small products
 * (m·n·k ≤ 2^18, where OpenBLAS would use one thread anyway) are spread over the pool. Why one OpenBLAS thread:
 * on a shared 2-core machine, OpenBLAS's two threads took 3–4 ms per 148×148×64 attention product (its workers
 * wait for each other through the scheduler on every call) against about 0.1 ms single-threaded, and splitting
 * large products between Java threads kept OpenBLAS's single-thread speed per core (docs/performance.md).
 * Switching OpenBLAS's thread count per call was rejected: {@code openblas_set_num_threads} took about 400 µs a
 * call. That count is process-wide, so the GEMMs of all {@code CpuBackend}s in a process take turns, and a backend
 * sets its {@code blasThreads} only when another one changed it. Drive one backend from one thread at a time, as
 * the tape does.
 *
 * <h2>Memory</h2>
 * Every buffer is a JavaCPP {@link FloatPointer} ({@code new FloatPointer(n)}, native, uninitialised) with a
 * {@link FloatBuffer} view for the Java loops. It is freed explicitly in {@link #release} when its owner closes,
 * never by the garbage collector; {@link #liveBytes()} counts what is allocated and not yet released. A second
 * release, or any kernel on a released buffer, throws {@link IllegalStateException}. JavaCPP caps native
 * allocations at {@code org.bytedeco.javacpp.maxBytes} (default: the JVM's maximum heap, {@code -Xmx}) and the
 * process's resident memory at {@code org.bytedeco.javacpp.maxPhysicalBytes} (default: four times that); past
 * them an allocation fails with an {@link OutOfMemoryError} that says so. To hold bigger models raise them, e.g.
 * {@code -Dorg.bytedeco.javacpp.maxBytes=24g -Dorg.bytedeco.javacpp.maxPhysicalBytes=32g}, or raise {@code -Xmx}.
 * BF16 buffers (frozen weights) are {@code ShortPointer}s of raw bfloat16 words; a product with a BF16 operand
 * widens it in tiles of at most 4 MiB of floats per thread, scratch outside {@link #liveBytes()}. One buffer holds at
 * most 2^31 − 1 elements (8 GiB of floats). JavaCPP would still free a buffer whose owner was never closed once it
 * becomes unreachable, but that is a leak to fix, and {@link #liveBytes()} keeps counting it.
 *
 * <h2>Options</h2>
 * {@code new CpuBackend()} uses {@link Runtime#availableProcessors()} Java threads and one OpenBLAS thread;
 * {@code new CpuBackend(new Options(threads, blasThreads))} chooses them (1 and 1 make it single-threaded).
 * {@link #close()} stops the Java pool; close every owner of this backend's tensors first.
 */
public final class CpuBackend implements Backend {

    /**
     * Thread counts: {@code threads} Java threads for row-parallel kernels and split GEMMs (the caller included)
     * and {@code blasThreads} OpenBLAS threads inside one matrix product. Both must be at least 1.
     */
    public record Options(int threads, int blasThreads) {
        public Options {
            if (threads < 1 || blasThreads < 1) {
                throw new IllegalArgumentException("CpuBackend.Options: threads (" + threads + ") and blasThreads ("
                        + blasThreads + ") must both be ≥ 1");
            }
        }

        /** One Java thread per available processor, one OpenBLAS thread: the Java pool splits every kernel. */
        public static Options defaults() {
            return withThreads(Runtime.getRuntime().availableProcessors());
        }

        /** {@code threads} Java threads that split every kernel, GEMMs included, over one OpenBLAS thread each. */
        public static Options withThreads(int threads) {
            return new Options(threads, 1);
        }
    }

    /** Elements per chunk of flat (element-wise) loops, so a chunk is a few pages of floats. */
    private static final int BLOCK = 4096;

    private final Options options;
    private final ParallelRows parallel;
    private final BlasGemm blas;
    private final AtomicLong liveBytes = new AtomicLong();

    /** A backend with one Java thread and one OpenBLAS thread per available processor. */
    public CpuBackend() {
        this(Options.defaults());
    }

    public CpuBackend(Options options) {
        this.options = options;
        this.parallel = new ParallelRows(options.threads());
        try {
            this.blas = new BlasGemm(options.blasThreads(), parallel);
        } catch (RuntimeException e) {
            parallel.close();
            throw e;
        }
    }

    public Options options() {
        return options;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public boolean supports(DType dtype) {
        return dtype == DType.F32 || dtype == DType.BF16;
    }

    // ---- memory -------------------------------------------------------------------------------------

    @Override
    public Buffer allocate(DType dtype, long elements, String label) {
        KernelContract.checkAllocate(this, dtype, elements, label);
        if (elements > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("allocate: " + elements + " floats for " + label + " exceed the CPU"
                    + " backend's limit of " + Integer.MAX_VALUE + " per buffer; split the tensor");
        }
        CpuBuffer buffer;
        try {
            buffer = dtype == DType.BF16
                    ? CpuBuffer.ofBf16(this, new ShortPointer(Math.max(1, elements)), elements, label)
                    : CpuBuffer.ofFloats(this, new FloatPointer(Math.max(1, elements)), elements, label);
        } catch (OutOfMemoryError e) {
            OutOfMemoryError clear = new OutOfMemoryError("allocate: no native memory for " + elements * dtype.bytes
                    + " bytes of " + label + " (" + liveBytes() + " bytes live on this backend, JavaCPP total "
                    + Pointer.totalBytes() + " of maxBytes " + Pointer.maxBytes() + "); close unused owners, or"
                    + " raise -Dorg.bytedeco.javacpp.maxBytes and -Dorg.bytedeco.javacpp.maxPhysicalBytes");
            clear.initCause(e);
            throw clear;
        }
        liveBytes.addAndGet(buffer.bytes());
        return buffer;
    }

    @Override
    public void release(Buffer buffer) {
        CpuBuffer cpu = own(buffer, "release");
        if (!cpu.free()) {
            throw new IllegalStateException("release: the storage of " + buffer.label()
                    + " was already released; an owner must free each buffer exactly once");
        }
        liveBytes.addAndGet(-buffer.bytes());
    }

    @Override
    public long liveBytes() {
        return liveBytes.get();
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        KernelContract.checkUpload(src.length, dst);
        if (dst.dtype() == DType.BF16) {
            short[] rounded = HalfFloats.floatsToBf16(src);
            words(dst).put(at(dst), rounded, 0, rounded.length);
            return;
        }
        floats(dst).put(at(dst), src, 0, src.length);
    }

    @Override
    public void upload(double[] src, Tensor dst) {
        KernelContract.checkUpload(src.length, dst);
        if (dst.dtype() == DType.BF16) {
            float[] narrowed = new float[src.length];
            for (int i = 0; i < src.length; i++) narrowed[i] = (float) src[i];
            upload(narrowed, dst);
            return;
        }
        FloatBuffer d = floats(dst);
        int base = at(dst);
        for (int i = 0; i < src.length; i++) d.put(base + i, (float) src[i]);
    }

    @Override
    public float[] download(Tensor src) {
        KernelContract.checkDownload(src);
        float[] values = new float[(int) src.size()];
        if (src.dtype() == DType.BF16) {
            short[] raw = new short[values.length];
            words(src).get(at(src), raw, 0, raw.length);
            HalfFloats.bf16ToFloats(raw, 0, values, 0, raw.length);
            return values;
        }
        floats(src).get(at(src), values, 0, values.length);
        return values;
    }

    @Override
    public double[] downloadDouble(Tensor src) {
        float[] values = download(src);
        double[] wide = new double[values.length];
        for (int i = 0; i < values.length; i++) wide[i] = values[i];
        return wide;
    }

    @Override
    public void fill(Tensor dst, double value) {
        KernelContract.checkFill(dst);
        FloatBuffer d = floats(dst);
        int base = at(dst);
        float v = (float) value;
        forElements(dst.size(), 1, (from, to) -> {
            float[] run = FloatKernels.array(0, BLOCK);
            Arrays.fill(run, 0, Math.min(BLOCK, to - from), v);
            for (int i = from; i < to; i += BLOCK) d.put(base + i, run, 0, Math.min(BLOCK, to - i));
        });
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        KernelContract.checkCopy(src, dst);
        if (src.size() == 0) return;
        Pointer to = own(dst.buffer(), "copy").elementAt(dst.offset());
        Pointer from = own(src.buffer(), "copy").elementAt(src.offset());
        Pointer.memcpy(to, from, src.size() * src.dtype().bytes);
    }

    // ---- element-wise --------------------------------------------------------------------------------

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        KernelContract.checkAdd(a, b, out);
        FloatBuffer af = floats(a), bf = floats(b), of = floats(out);
        int ao = at(a), bo = at(b), oo = at(out);
        int period = (int) b.size();   // b repeats every `period` elements of a
        if (period == a.size()) {
            forElements(a.size(), 1, (from, to) -> {
                float[] x = FloatKernels.array(0, BLOCK), y = FloatKernels.array(1, BLOCK);
                for (int i = from; i < to; i += BLOCK) {
                    int n = Math.min(BLOCK, to - i);
                    af.get(ao + i, x, 0, n);
                    bf.get(bo + i, y, 0, n);
                    for (int j = 0; j < n; j++) x[j] += y[j];
                    of.put(oo + i, x, 0, n);
                }
            });
            return;
        }
        int rows = period == 0 ? 0 : (int) (a.size() / period);   // a is (rows, period)
        parallel.forRows(rows, period, (r0, r1) -> {
            float[] bias = FloatKernels.array(1, period), x = FloatKernels.array(0, period);
            bf.get(bo, bias, 0, period);
            for (int r = r0; r < r1; r++) {
                af.get(ao + r * period, x, 0, period);
                for (int j = 0; j < period; j++) x[j] += bias[j];
                of.put(oo + r * period, x, 0, period);
            }
        });
    }

    @Override
    public void scale(Tensor x, double alpha, Tensor out) {
        KernelContract.checkScale(x, out);
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        forElements(x.size(), 1, (from, to) -> {
            float[] v = FloatKernels.array(0, BLOCK);
            for (int i = from; i < to; i += BLOCK) {
                int n = Math.min(BLOCK, to - i);
                xf.get(xo + i, v, 0, n);
                for (int j = 0; j < n; j++) v[j] = (float) (alpha * v[j]);
                of.put(oo + i, v, 0, n);
            }
        });
    }

    @Override
    public void sumRows(Tensor x, Tensor out, boolean accumulate) {
        KernelContract.checkSumRows(x, out);
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        int cols = (int) out.size();          // x is (rows, cols)
        int rows = cols == 0 ? 0 : (int) (x.size() / cols);
        int columnBlock = 256;                // each chunk sums a block of columns over all rows
        int blocks = (cols + columnBlock - 1) / columnBlock;
        parallel.forRows(blocks, (long) rows * columnBlock, (b0, b1) -> {
            for (int blk = b0; blk < b1; blk++) {
                int c0 = blk * columnBlock, c1 = Math.min(cols, c0 + columnBlock);
                double[] sums = new double[c1 - c0];   // (block cols)
                for (int r = 0; r < rows; r++) {
                    int row = xo + r * cols;
                    for (int c = c0; c < c1; c++) sums[c - c0] += xf.get(row + c);
                }
                for (int c = c0; c < c1; c++) {
                    double s = sums[c - c0] + (accumulate ? of.get(oo + c) : 0);
                    of.put(oo + c, (float) s);
                }
            }
        });
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        KernelContract.checkUnary(op, x, out);
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        forElements(x.size(), 16, (from, to) -> {
            float[] v = FloatKernels.array(0, BLOCK);
            for (int i = from; i < to; i += BLOCK) {
                int n = Math.min(BLOCK, to - i);
                xf.get(xo + i, v, 0, n);
                switch (op) {
                    case GELU_TANH -> FloatKernels.geluTanh(v, n);
                    case SILU -> FloatKernels.silu(v, n);
                    case GELU_ERF -> {
                        for (int j = 0; j < n; j++) v[j] = (float) (0.5 * v[j] * (1 + Erf.erf(v[j] * INV_SQRT_2)));
                    }
                }
                of.put(oo + i, v, 0, n);
            }
        });
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        KernelContract.checkUnaryBackward(op, x, dOut, dx);
        FloatBuffer xf = floats(x), gf = floats(dOut), df = floats(dx);
        int xo = at(x), go = at(dOut), d0 = at(dx);
        forElements(x.size(), 16, (from, to) -> {
            float[] v = FloatKernels.array(0, BLOCK), g = FloatKernels.array(1, BLOCK);
            for (int i = from; i < to; i += BLOCK) {
                int n = Math.min(BLOCK, to - i);
                xf.get(xo + i, v, 0, n);
                gf.get(go + i, g, 0, n);
                switch (op) {
                    case GELU_TANH -> FloatKernels.geluTanhBackward(v, g, n);
                    case SILU -> FloatKernels.siluBackward(v, g, n);
                    case GELU_ERF -> {
                        for (int j = 0; j < n; j++) {
                            double u = v[j];
                            g[j] = (float) (g[j] * (0.5 * (1 + Erf.erf(u * INV_SQRT_2))
                                    + u * Math.exp(-0.5 * u * u) * INV_SQRT_2PI));
                        }
                    }
                }
                df.put(d0 + i, g, 0, n);
            }
        });
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out) {
        KernelContract.checkSwiglu(gate, up, out);
        FloatBuffer gf = floats(gate), uf = floats(up), of = floats(out);
        int go = at(gate), uo = at(up), oo = at(out);
        forElements(gate.size(), 16, (from, to) -> {
            float[] g = FloatKernels.array(0, BLOCK), u = FloatKernels.array(1, BLOCK);
            for (int i = from; i < to; i += BLOCK) {
                int n = Math.min(BLOCK, to - i);
                gf.get(go + i, g, 0, n);
                uf.get(uo + i, u, 0, n);
                // PyTorch: F.silu(gate) * up
                FloatKernels.silu(g, n);
                for (int j = 0; j < n; j++) g[j] *= u[j];
                of.put(oo + i, g, 0, n);
            }
        });
    }

    @Override
    public void swigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) {
        KernelContract.checkSwigluBackward(gate, up, dOut, dGate, dUp);
        FloatBuffer gf = floats(gate), uf = floats(up), df = floats(dOut);
        FloatBuffer dgf = dGate == null ? null : floats(dGate), duf = dUp == null ? null : floats(dUp);
        int go = at(gate), uo = at(up), d0 = at(dOut);
        int dgo = dGate == null ? 0 : at(dGate), duo = dUp == null ? 0 : at(dUp);
        forElements(gate.size(), 16, (from, to) -> {
            float[] g = FloatKernels.array(0, BLOCK), u = FloatKernels.array(1, BLOCK);
            float[] d = FloatKernels.array(2, BLOCK);
            for (int i = from; i < to; i += BLOCK) {
                int n = Math.min(BLOCK, to - i);
                gf.get(go + i, g, 0, n);
                df.get(d0 + i, d, 0, n);
                if (dgf != null) {
                    // dGate = dOut · up · silu'(gate)
                    uf.get(uo + i, u, 0, n);
                    for (int j = 0; j < n; j++) u[j] *= d[j];
                    FloatKernels.siluBackward(g, u, n);
                    dgf.put(dgo + i, u, 0, n);
                }
                if (duf != null) {
                    // dUp = dOut · silu(gate)
                    FloatKernels.silu(g, n);
                    for (int j = 0; j < n; j++) g[j] *= d[j];
                    duf.put(duo + i, g, 0, n);
                }
            }
        });
    }

    // ---- normalisation ---------------------------------------------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean, Tensor rstd) {
        KernelContract.checkLayerNorm(x, gamma, beta, eps, out, mean, rstd);
        int cols = x.dim(-1), rows = x.rows();   // x, out: (rows, cols)
        FloatBuffer xf = floats(x), gf = floats(gamma), of = floats(out);
        FloatBuffer bf = beta == null ? null : floats(beta);
        FloatBuffer mf = mean == null ? null : floats(mean), rf = rstd == null ? null : floats(rstd);
        int xo = at(x), go = at(gamma), oo = at(out);
        int bo = beta == null ? 0 : at(beta), mo = mean == null ? 0 : at(mean), ro = rstd == null ? 0 : at(rstd);
        parallel.forRows(rows, 4L * cols, (r0, r1) -> {
            float[] v = FloatKernels.array(0, cols), g = FloatKernels.array(1, cols), b = FloatKernels.array(2, cols);
            gf.get(go, g, 0, cols);
            if (bf != null) bf.get(bo, b, 0, cols);
            else Arrays.fill(b, 0, cols, 0f);
            for (int r = r0; r < r1; r++) {
                xf.get(xo + r * cols, v, 0, cols);
                double sum = 0;
                for (int c = 0; c < cols; c++) sum += v[c];
                double mu = sum / cols;
                double squares = 0;
                for (int c = 0; c < cols; c++) {
                    double dev = v[c] - mu;
                    squares += dev * dev;
                }
                // PyTorch: (x - x.mean(-1)) / torch.sqrt(x.var(-1, unbiased=False) + eps) * gamma + beta
                double s = 1 / Math.sqrt(squares / cols + eps);
                float muF = (float) mu, sF = (float) s;
                for (int c = 0; c < cols; c++) v[c] = (v[c] - muF) * sF * g[c] + b[c];
                of.put(oo + r * cols, v, 0, cols);
                if (mf != null) mf.put(mo + r, muF);
                if (rf != null) rf.put(ro + r, sF);
            }
        });
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut, Tensor dx) {
        KernelContract.checkLayerNormBackward(x, gamma, mean, rstd, dOut, dx);
        int cols = x.dim(-1), rows = x.rows();   // x, dOut, dx: (rows, cols)
        FloatBuffer xf = floats(x), gf = floats(gamma), mf = floats(mean), rf = floats(rstd);
        FloatBuffer yf = floats(dOut), df = floats(dx);
        int xo = at(x), go = at(gamma), mo = at(mean), ro = at(rstd), yo = at(dOut), d0 = at(dx);
        parallel.forRows(rows, 6L * cols, (r0, r1) -> {
            float[] xhat = FloatKernels.array(0, cols), g = FloatKernels.array(1, cols);
            float[] gammaRow = FloatKernels.array(2, cols);
            gf.get(go, gammaRow, 0, cols);
            for (int r = r0; r < r1; r++) {
                float mu = mf.get(mo + r), s = rf.get(ro + r);
                xf.get(xo + r * cols, xhat, 0, cols);
                yf.get(yo + r * cols, g, 0, cols);
                // dxhat = dOut·gamma; dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
                for (int c = 0; c < cols; c++) {
                    xhat[c] = (xhat[c] - mu) * s;
                    g[c] *= gammaRow[c];
                }
                double sumG = 0, sumGX = 0;
                for (int c = 0; c < cols; c++) {
                    sumG += g[c];
                    sumGX += g[c] * xhat[c];
                }
                float meanG = (float) (sumG / cols), meanGX = (float) (sumGX / cols);
                for (int c = 0; c < cols; c++) g[c] = s * (g[c] - meanG - xhat[c] * meanGX);
                df.put(d0 + r * cols, g, 0, cols);
            }
        });
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        KernelContract.checkRmsNorm(x, weight, eps, out, rstd);
        int cols = x.dim(-1), rows = x.rows();   // x, out: (rows, cols)
        FloatBuffer xf = floats(x), wf = floats(weight), of = floats(out);
        FloatBuffer rf = rstd == null ? null : floats(rstd);
        int xo = at(x), wo = at(weight), oo = at(out), ro = rstd == null ? 0 : at(rstd);
        parallel.forRows(rows, 3L * cols, (r0, r1) -> {
            float[] v = FloatKernels.array(0, cols), w = FloatKernels.array(1, cols);
            wf.get(wo, w, 0, cols);
            for (int r = r0; r < r1; r++) {
                xf.get(xo + r * cols, v, 0, cols);
                double squares = 0;
                for (int c = 0; c < cols; c++) squares += v[c] * (double) v[c];
                // PyTorch (Llama): x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
                float s = (float) (1 / Math.sqrt(squares / cols + eps));
                for (int c = 0; c < cols; c++) v[c] = v[c] * s * w[c];
                of.put(oo + r * cols, v, 0, cols);
                if (rf != null) rf.put(ro + r, s);
            }
        });
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx) {
        KernelContract.checkRmsNormBackward(x, weight, rstd, dOut, dx);
        int cols = x.dim(-1), rows = x.rows();   // x, dOut, dx: (rows, cols)
        FloatBuffer xf = floats(x), wf = floats(weight), rf = floats(rstd), yf = floats(dOut), df = floats(dx);
        int xo = at(x), wo = at(weight), ro = at(rstd), yo = at(dOut), d0 = at(dx);
        parallel.forRows(rows, 5L * cols, (r0, r1) -> {
            float[] v = FloatKernels.array(0, cols), g = FloatKernels.array(1, cols), w = FloatKernels.array(2, cols);
            wf.get(wo, w, 0, cols);
            for (int r = r0; r < r1; r++) {
                float s = rf.get(ro + r);
                xf.get(xo + r * cols, v, 0, cols);
                yf.get(yo + r * cols, g, 0, cols);
                // g = dOut·weight; dx = rstd·g − x·rstd³·mean(g·x)
                double sumGX = 0;
                for (int c = 0; c < cols; c++) {
                    g[c] *= w[c];
                    sumGX += g[c] * v[c];
                }
                float correction = (float) ((double) s * s * s * sumGX / cols);
                for (int c = 0; c < cols; c++) g[c] = s * g[c] - v[c] * correction;
                df.put(d0 + r * cols, g, 0, cols);
            }
        });
    }

    // ---- matrix products -------------------------------------------------------------------------------

    @Override
    public void gemm(Gemm g, Tensor a, Tensor b, Tensor c) {
        KernelContract.checkGemm(g, a, b, c);
        blas.run(g, own(a.buffer(), "gemm"), a.offset(), own(b.buffer(), "gemm"), b.offset(),
                own(c.buffer(), "gemm"), c.offset());
    }

    // ---- attention pieces --------------------------------------------------------------------------------

    @Override
    public void softmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs) {
        KernelContract.checkSoftmax(scores, scale, causal, keyMask, probs);
        int heads = scores.dim(1), queries = scores.dim(2), keys = scores.dim(3);
        int rows = scores.rows();   // batch · heads · queries rows of (keys)
        FloatBuffer sf = floats(scores), pf = floats(probs), mf = keyMask == null ? null : floats(keyMask);
        int so = at(scores), po = at(probs), mo = keyMask == null ? 0 : at(keyMask);
        float scaleF = (float) scale;
        parallel.forRows(rows, 8L * keys, (r0, r1) -> {
            float[] v = FloatKernels.array(0, keys), mask = FloatKernels.array(1, keys);
            int maskBatch = -1;   // the batch entry whose mask row is in `mask`
            for (int r = r0; r < r1; r++) {
                int batch = r / (heads * queries), query = r % queries;
                // query i sees keys j ≤ i + (keys − queries)
                int visibleEnd = causal ? (int) Math.max(0, Math.min(keys, (long) query + keys - queries + 1)) : keys;
                sf.get(so + r * keys, v, 0, keys);
                if (mf != null && maskBatch != batch) {
                    mf.get(mo + batch * keys, mask, 0, keys);
                    maskBatch = batch;
                }
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < visibleEnd; j++) {
                    v[j] *= scaleF;
                    if (mf == null || mask[j] != 0f) max = Math.max(max, v[j]);
                }
                if (max == Float.NEGATIVE_INFINITY) {   // no visible key: the row becomes zeros
                    Arrays.fill(v, 0, keys, 0f);
                    pf.put(po + r * keys, v, 0, keys);
                    continue;
                }
                if (mf != null) {
                    for (int j = 0; j < visibleEnd; j++) if (mask[j] == 0f) v[j] = max - 1000;   // e^-88 after clamping
                }
                double sum = FloatKernels.shiftedExp(v, max, visibleEnd);
                if (mf != null) {
                    for (int j = 0; j < visibleEnd; j++) if (mask[j] == 0f) v[j] = 0f;
                }
                float inverse = (float) (1 / sum);
                for (int j = 0; j < visibleEnd; j++) v[j] *= inverse;
                Arrays.fill(v, visibleEnd, keys, 0f);
                pf.put(po + r * keys, v, 0, keys);
            }
        });
    }

    @Override
    public void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        KernelContract.checkSoftmaxBackward(probs, dProbs, scale, dScores);
        int keys = probs.dim(-1), rows = probs.rows();   // (rows, keys)
        FloatBuffer pf = floats(probs), gf = floats(dProbs), df = floats(dScores);
        int po = at(probs), go = at(dProbs), d0 = at(dScores);
        float scaleF = (float) scale;
        parallel.forRows(rows, 4L * keys, (r0, r1) -> {
            float[] p = FloatKernels.array(0, keys), g = FloatKernels.array(1, keys);
            for (int r = r0; r < r1; r++) {
                pf.get(po + r * keys, p, 0, keys);
                gf.get(go + r * keys, g, 0, keys);
                double dot = 0;
                for (int j = 0; j < keys; j++) dot += p[j] * g[j];
                float dotF = (float) dot;
                for (int j = 0; j < keys; j++) g[j] = scaleF * p[j] * (g[j] - dotF);
                df.put(d0 + r * keys, g, 0, keys);
            }
        });
    }

    @Override
    public void rope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout, boolean inverse,
                     Tensor out) {
        KernelContract.checkRope(x, positions, frequencies, layout, out);
        int heads = x.dim(1), steps = x.dim(2), headSize = x.dim(3), half = headSize / 2;
        int rows = x.rows();   // batch · heads · T rows of (headSize)
        boolean perSequence = positions.length != steps;
        int angles = positions.length;   // T, or batch · T when each sequence has its own positions
        double[] cos = new double[angles * half], sin = new double[angles * half];   // (angles, headSize/2)
        for (int j = 0; j < half; j++) {
            double frequency = frequencies.inverse(j);
            for (int t = 0; t < angles; t++) {
                double angle = positions[t] * frequency;
                cos[t * half + j] = Math.cos(angle);
                sin[t * half + j] = inverse ? -Math.sin(angle) : Math.sin(angle);
            }
        }
        // ROTATE_HALF pairs (j, j + headSize/2); INTERLEAVED pairs (2j, 2j + 1)
        int pairStride = layout == RopeLayout.ROTATE_HALF ? 1 : 2;
        int partner = layout == RopeLayout.ROTATE_HALF ? half : 1;
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        parallel.forRows(rows, 3L * headSize, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                // row r is (b, h, t); its angles are row t, or b · T + t of the per-sequence table
                int t = perSequence ? r / (heads * steps) * steps + r % steps : r % steps, row = r * headSize;
                for (int j = 0; j < half; j++) {
                    int first = row + j * pairStride, second = first + partner;
                    double a = xf.get(xo + first), b = xf.get(xo + second);
                    double c = cos[t * half + j], s = sin[t * half + j];
                    // PyTorch (HF): q * cos + rotate_half(q) * sin
                    of.put(oo + first, (float) (a * c - b * s));
                    of.put(oo + second, (float) (a * s + b * c));
                }
            }
        });
    }

    @Override
    public void permute(Tensor x, int[] perm, Tensor out) {
        KernelContract.checkPermute(x, perm, out);
        int rank = KernelContract.MAX_PERMUTE_RANK, last = rank - 1, pad = rank - x.rank();
        int[] shape = new int[rank];      // x's shape, left-padded with 1s
        int[] axis = new int[rank];       // out axis i reads x axis axis[i] (padded)
        for (int i = 0; i < rank; i++) {
            shape[i] = i < pad ? 1 : x.dim(i - pad);
            axis[i] = i < pad ? i : perm[i - pad] + pad;
        }
        long[] xStride = new long[rank];  // x's element strides
        xStride[last] = 1;
        for (int i = last - 1; i >= 0; i--) xStride[i] = xStride[i + 1] * shape[i + 1];
        int[] outShape = new int[rank];
        long[] stride = new long[rank];   // x's stride along each out axis
        for (int i = 0; i < rank; i++) {
            outShape[i] = shape[axis[i]];
            stride[i] = xStride[axis[i]];
        }
        int runLength = outShape[last];
        long rows = out.size() / Math.max(runLength, 1);
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        parallel.forRows((int) rows, runLength, (r0, r1) -> {
            float[] run = FloatKernels.array(0, runLength);
            for (int r = r0; r < r1; r++) {
                long src = xo, rest = r;
                for (int i = last - 1; i >= 0; i--) {   // r's coordinates over out's leading axes, last fastest
                    src += (rest % outShape[i]) * stride[i];
                    rest /= outShape[i];
                }
                int dst = oo + r * runLength;
                if (stride[last] == 1) {   // the last axis stays last: a contiguous run
                    xf.get((int) src, run, 0, runLength);
                } else {
                    for (int i = 0; i < runLength; i++) run[i] = xf.get((int) (src + i * stride[last]));
                }
                of.put(dst, run, 0, runLength);
            }
        });
    }

    // ---- embeddings and the loss ---------------------------------------------------------------------

    @Override
    public void gather(Tensor table, int[] ids, Tensor out) {
        KernelContract.checkGather(table, ids, out);
        int dim = table.dim(1);   // table: (vocab, dim), out: (ids, dim)
        FloatBuffer of = floats(out);
        int to = at(table), oo = at(out);
        if (table.dtype() == DType.BF16) {
            ShortBuffer tw = words(table);
            parallel.forRows(ids.length, 2L * dim, (r0, r1) -> {
                short[] raw = FloatKernels.words(dim);
                float[] row = FloatKernels.array(0, dim);
                for (int r = r0; r < r1; r++) {
                    tw.get(to + ids[r] * dim, raw, 0, dim);
                    HalfFloats.bf16ToFloats(raw, 0, row, 0, dim);
                    of.put(oo + r * dim, row, 0, dim);
                }
            });
            return;
        }
        FloatBuffer tf = floats(table);
        parallel.forRows(ids.length, dim, (r0, r1) -> {
            float[] row = FloatKernels.array(0, dim);
            for (int r = r0; r < r1; r++) {
                tf.get(to + ids[r] * dim, row, 0, dim);
                of.put(oo + r * dim, row, 0, dim);
            }
        });
    }

    @Override
    public double crossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits) {
        KernelContract.checkCrossEntropy(logits, targets, dScale, dLogits);
        int vocab = logits.dim(-1), rows = logits.rows();   // logits, dLogits: (rows, vocab)
        FloatBuffer lf = floats(logits), df = dLogits == null ? null : floats(dLogits);
        int lo = at(logits), d0 = dLogits == null ? 0 : at(dLogits);
        double[] losses = new double[rows];   // (rows), summed in row order so the result is deterministic
        parallel.forRows(rows, 6L * vocab, (r0, r1) -> {
            float[] v = FloatKernels.array(0, vocab);
            for (int r = r0; r < r1; r++) {
                int target = targets[r];
                if (target == KernelContract.IGNORE_INDEX) {
                    if (df != null) {
                        Arrays.fill(v, 0, vocab, 0f);
                        df.put(d0 + r * vocab, v, 0, vocab);
                    }
                    continue;
                }
                lf.get(lo + r * vocab, v, 0, vocab);
                float targetLogit = v[target];
                float max = FloatKernels.max(v, vocab);
                double sum = FloatKernels.shiftedExp(v, max, vocab);
                // PyTorch: F.cross_entropy(logits, targets, ignore_index=-100, reduction='sum')
                losses[r] = max + Math.log(sum) - targetLogit;
                if (df != null) {
                    // dLogits = dScale · (softmax − onehot), softmax = e / Σe
                    double targetShare = v[target] / sum;
                    float factor = (float) (dScale / sum);
                    for (int j = 0; j < vocab; j++) v[j] *= factor;
                    v[target] = (float) (dScale * (targetShare - 1));
                    df.put(d0 + r * vocab, v, 0, vocab);
                }
            }
        });
        double total = 0;
        for (double loss : losses) total += loss;
        return total;
    }

    @Override
    public int[] argmax(Tensor x) {
        KernelContract.checkArgmax(x);
        int cols = x.dim(-1), rows = x.rows();   // x: (rows, cols)
        FloatBuffer xf = floats(x);
        int xo = at(x);
        int[] best = new int[rows];
        parallel.forRows(rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int row = xo + r * cols, index = 0;
                float value = xf.get(row);
                for (int c = 1; c < cols; c++) {
                    float v = xf.get(row + c);
                    if (v > value) {   // strictly greater: ties keep the lowest index
                        value = v;
                        index = c;
                    }
                }
                best[r] = index;
            }
        });
        return best;
    }

    @Override
    public void close() {
        parallel.close();
    }

    private static final double INV_SQRT_2 = 1 / Math.sqrt(2);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

    // ---- storage access -------------------------------------------------------------------------------

    /** The buffer as this backend's own storage, or an error naming the kernel if another backend made it. */
    private CpuBuffer own(Buffer buffer, String kernel) {
        if (buffer instanceof CpuBuffer cpu && cpu.owner() == this) return cpu;
        throw new IllegalArgumentException(kernel + ": the storage of " + buffer.label()
                + " was allocated by another backend; move it here with download and upload");
    }

    private FloatBuffer floats(Tensor t) {
        return own(t.buffer(), "cpu kernel").floats();
    }

    private ShortBuffer words(Tensor t) {
        return own(t.buffer(), "cpu kernel").words();
    }

    /** The tensor's first element as an index into its buffer's float view. */
    private static int at(Tensor t) {
        return (int) t.offset();
    }

    /** A parallel loop over [0, size) elements, in blocks of {@link #BLOCK}; {@code cost} is per element. */
    private void forElements(long size, int cost, ParallelRows.Body body) {
        int n = (int) size;
        int blocks = (int) ((size + BLOCK - 1) / BLOCK);
        parallel.forRows(blocks, (long) BLOCK * cost,
                (b0, b1) -> body.run((int) Math.min(n, (long) b0 * BLOCK), (int) Math.min(n, (long) b1 * BLOCK)));
    }
}
