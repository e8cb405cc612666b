package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Erf;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.KernelContract;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The fast CPU backend: float32 tensors in native memory, matrix products in OpenBLAS, everything else in
 * multi-threaded Java loops over rows. It runs F32 only ({@code supports(F64)} is false); float64 gradient
 * checks use the reference backend, which is also this backend's oracle in the contract suite.
 *
 * <h2>Threading</h2>
 * Kernels are synchronous: each returns when its result is written. Two kinds of threads do the work, never
 * at the same time within one call:
 * <ul>
 *   <li>{@link Options#threads()}: a fixed pool of Java threads (the calling thread plus {@code threads − 1}
 *       daemon workers) splits the rows of every non-GEMM kernel into contiguous chunks. Loops of fewer than
 *       about 32K element operations run inline on the caller.</li>
 *   <li>{@link Options#blasThreads()}: OpenBLAS's own threads, set with {@code openblas_set_num_threads}
 *       (through the preset's {@code blas_set_num_threads}). They run only inside {@link #gemm}, while the
 *       Java pool is idle.</li>
 * </ul>
 * A strided-batched GEMM is one {@code cblas_sgemm} call per batch matrix. The calls run one after another
 * on the calling thread, each free to use all {@code blasThreads}, unless the products are small enough that
 * OpenBLAS runs each on one thread anyway (m·n·k ≤ 2^18, its own threshold) and the batch as a whole is big
 * enough to pay for a hand-off (batch·m·n·k ≥ 2^22): then the batch is spread over the Java pool, one
 * single-threaded product per call. Measured on a shared, loaded 2-core machine (OpenBLAS 0.3.31, float32,
 * k = 64, batch 12 and 48): one after another won at every size tried (16² to 256²), by 1.1× to 3×, because
 * handing work to a busy pool cost 20–50 µs; hence the work floor, and spreading only where OpenBLAS would leave
 * all but one core idle. Switching OpenBLAS's thread count per call was rejected: {@code openblas_set_num_threads}
 * took about 400 µs a call. That count is process-wide, so the GEMMs of all {@code CpuBackend}s in a process take
 * turns, and a backend sets its {@code blasThreads} only when another one changed it. OpenBLAS's threads spin
 * briefly after a call before they sleep; {@code OPENBLAS_THREAD_TIMEOUT} shortens that if the Java kernels
 * right after a large GEMM look slow. Drive one backend from one thread at a time, as the tape does.
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
 * One buffer holds at most 2^31 − 1 floats (8 GiB). JavaCPP would still free a buffer whose owner was never
 * closed once it becomes unreachable, but that is a leak to fix, and {@link #liveBytes()} keeps counting it.
 *
 * <h2>Options</h2>
 * {@code new CpuBackend()} uses {@link Runtime#availableProcessors()} for both thread counts;
 * {@code new CpuBackend(new Options(threads, blasThreads))} chooses them (1 and 1 make it single-threaded).
 * {@link #close()} stops the Java pool; close every owner of this backend's tensors first.
 */
public final class CpuBackend implements Backend {

    /**
     * Thread counts: {@code threads} Java threads for row-parallel kernels (the caller included) and
     * {@code blasThreads} OpenBLAS threads for one large matrix product. Both must be at least 1.
     */
    public record Options(int threads, int blasThreads) {
        public Options {
            if (threads < 1 || blasThreads < 1) {
                throw new IllegalArgumentException("CpuBackend.Options: threads (" + threads + ") and blasThreads ("
                        + blasThreads + ") must both be ≥ 1");
            }
        }

        /** One thread of each kind per available processor. */
        public static Options defaults() {
            int cores = Runtime.getRuntime().availableProcessors();
            return new Options(cores, cores);
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
        return dtype == DType.F32;
    }

    // ---- memory -------------------------------------------------------------------------------------

    @Override
    public Buffer allocate(DType dtype, long elements, String label) {
        KernelContract.checkAllocate(this, dtype, elements, label);
        if (elements > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("allocate: " + elements + " floats for " + label + " exceed the CPU"
                    + " backend's limit of " + Integer.MAX_VALUE + " per buffer; split the tensor");
        }
        FloatPointer pointer;
        try {
            pointer = new FloatPointer(Math.max(1, elements));
        } catch (OutOfMemoryError e) {
            OutOfMemoryError clear = new OutOfMemoryError("allocate: no native memory for " + elements * 4
                    + " bytes of " + label + " (" + liveBytes() + " bytes live on this backend, JavaCPP total "
                    + Pointer.totalBytes() + " of maxBytes " + Pointer.maxBytes() + "); close unused owners, or"
                    + " raise -Dorg.bytedeco.javacpp.maxBytes and -Dorg.bytedeco.javacpp.maxPhysicalBytes");
            clear.initCause(e);
            throw clear;
        }
        CpuBuffer buffer = new CpuBuffer(this, pointer, elements, label);
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
        floats(dst).put(at(dst), src, 0, src.length);
    }

    @Override
    public void upload(double[] src, Tensor dst) {
        KernelContract.checkUpload(src.length, dst);
        FloatBuffer d = floats(dst);
        int base = at(dst);
        for (int i = 0; i < src.length; i++) d.put(base + i, (float) src[i]);
    }

    @Override
    public float[] download(Tensor src) {
        KernelContract.checkDownload(src);
        float[] values = new float[(int) src.size()];
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
            for (int i = from; i < to; i++) d.put(base + i, v);
        });
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        KernelContract.checkCopy(src, dst);
        if (src.size() == 0) return;
        Pointer.memcpy(pointer(dst), pointer(src), src.size() * Float.BYTES);
    }

    // ---- element-wise --------------------------------------------------------------------------------

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        KernelContract.checkAdd(a, b, out);
        FloatBuffer af = floats(a), bf = floats(b), of = floats(out);
        int ao = at(a), bo = at(b), oo = at(out);
        int period = (int) b.size();   // b repeats every `period` elements of a
        forElements(a.size(), 1, (from, to) -> {
            int j = from % period;
            for (int i = from; i < to; i++) {
                of.put(oo + i, af.get(ao + i) + bf.get(bo + j));
                if (++j == period) j = 0;
            }
        });
    }

    @Override
    public void scale(Tensor x, double alpha, Tensor out) {
        KernelContract.checkScale(x, out);
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        forElements(x.size(), 1, (from, to) -> {
            for (int i = from; i < to; i++) of.put(oo + i, (float) (alpha * xf.get(xo + i)));
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
            for (int i = from; i < to; i++) of.put(oo + i, (float) activation(op, xf.get(xo + i)));
        });
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        KernelContract.checkUnaryBackward(op, x, dOut, dx);
        FloatBuffer xf = floats(x), gf = floats(dOut), df = floats(dx);
        int xo = at(x), go = at(dOut), d0 = at(dx);
        forElements(x.size(), 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                df.put(d0 + i, (float) (gf.get(go + i) * activationDerivative(op, xf.get(xo + i))));
            }
        });
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out) {
        KernelContract.checkSwiglu(gate, up, out);
        FloatBuffer gf = floats(gate), uf = floats(up), of = floats(out);
        int go = at(gate), uo = at(up), oo = at(out);
        forElements(gate.size(), 16, (from, to) -> {
            for (int i = from; i < to; i++) {
                // PyTorch: F.silu(gate) * up
                of.put(oo + i, (float) (silu(gf.get(go + i)) * uf.get(uo + i)));
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
            for (int i = from; i < to; i++) {
                double g = gf.get(go + i), d = df.get(d0 + i);
                double s = sigmoid(g);
                if (dgf != null) dgf.put(dgo + i, (float) (d * uf.get(uo + i) * s * (1 + g * (1 - s))));
                if (duf != null) duf.put(duo + i, (float) (d * g * s));
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
            for (int r = r0; r < r1; r++) {
                int row = xo + r * cols;
                double sum = 0;
                for (int c = 0; c < cols; c++) sum += xf.get(row + c);
                double mu = sum / cols;
                double squares = 0;
                for (int c = 0; c < cols; c++) {
                    double dev = xf.get(row + c) - mu;
                    squares += dev * dev;
                }
                // PyTorch: (x - x.mean(-1)) / torch.sqrt(x.var(-1, unbiased=False) + eps) * gamma + beta
                double s = 1 / Math.sqrt(squares / cols + eps);
                int outRow = oo + r * cols;
                for (int c = 0; c < cols; c++) {
                    double y = (xf.get(row + c) - mu) * s * gf.get(go + c) + (bf == null ? 0 : bf.get(bo + c));
                    of.put(outRow + c, (float) y);
                }
                if (mf != null) mf.put(mo + r, (float) mu);
                if (rf != null) rf.put(ro + r, (float) s);
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
            for (int r = r0; r < r1; r++) {
                double mu = mf.get(mo + r), s = rf.get(ro + r);
                int row = r * cols;
                // dxhat = dOut·gamma; dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
                double sumG = 0, sumGX = 0;
                for (int c = 0; c < cols; c++) {
                    double g = yf.get(yo + row + c) * gf.get(go + c);
                    double xhat = (xf.get(xo + row + c) - mu) * s;
                    sumG += g;
                    sumGX += g * xhat;
                }
                double meanG = sumG / cols, meanGX = sumGX / cols;
                for (int c = 0; c < cols; c++) {
                    double g = yf.get(yo + row + c) * gf.get(go + c);
                    double xhat = (xf.get(xo + row + c) - mu) * s;
                    df.put(d0 + row + c, (float) (s * (g - meanG - xhat * meanGX)));
                }
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
            for (int r = r0; r < r1; r++) {
                int row = r * cols;
                double squares = 0;
                for (int c = 0; c < cols; c++) {
                    double v = xf.get(xo + row + c);
                    squares += v * v;
                }
                // PyTorch (Llama): x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
                double s = 1 / Math.sqrt(squares / cols + eps);
                for (int c = 0; c < cols; c++) {
                    of.put(oo + row + c, (float) (xf.get(xo + row + c) * s * wf.get(wo + c)));
                }
                if (rf != null) rf.put(ro + r, (float) s);
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
            for (int r = r0; r < r1; r++) {
                double s = rf.get(ro + r);
                int row = r * cols;
                // g = dOut·weight; dx = rstd·g − x·rstd³·mean(g·x)
                double sumGX = 0;
                for (int c = 0; c < cols; c++) {
                    sumGX += yf.get(yo + row + c) * (double) wf.get(wo + c) * xf.get(xo + row + c);
                }
                double correction = s * s * s * sumGX / cols;
                for (int c = 0; c < cols; c++) {
                    double g = yf.get(yo + row + c) * (double) wf.get(wo + c);
                    df.put(d0 + row + c, (float) (s * g - xf.get(xo + row + c) * correction));
                }
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
        parallel.forRows(rows, 8L * keys, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int batch = r / (heads * queries), query = r % queries;
                int row = r * keys;
                int mask = mo + batch * keys;   // (keys) of this batch entry
                // query i sees keys j ≤ i + (keys − queries)
                int visibleEnd = causal ? (int) Math.max(0, Math.min(keys, (long) query + keys - queries + 1)) : keys;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < visibleEnd; j++) {
                    if (mf != null && mf.get(mask + j) == 0f) continue;
                    max = Math.max(max, scale * sf.get(so + row + j));
                }
                if (max == Double.NEGATIVE_INFINITY) {   // no visible key: the row becomes zeros
                    for (int j = 0; j < keys; j++) pf.put(po + row + j, 0f);
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) {
                    boolean visible = j < visibleEnd && (mf == null || mf.get(mask + j) != 0f);
                    double e = visible ? Math.exp(scale * sf.get(so + row + j) - max) : 0;
                    sum += e;
                    pf.put(po + row + j, (float) e);
                }
                double inverse = 1 / sum;
                for (int j = 0; j < visibleEnd; j++) pf.put(po + row + j, (float) (pf.get(po + row + j) * inverse));
            }
        });
    }

    @Override
    public void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        KernelContract.checkSoftmaxBackward(probs, dProbs, scale, dScores);
        int keys = probs.dim(-1), rows = probs.rows();   // (rows, keys)
        FloatBuffer pf = floats(probs), gf = floats(dProbs), df = floats(dScores);
        int po = at(probs), go = at(dProbs), d0 = at(dScores);
        parallel.forRows(rows, 4L * keys, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int row = r * keys;
                double dot = 0;
                for (int j = 0; j < keys; j++) dot += (double) pf.get(po + row + j) * gf.get(go + row + j);
                for (int j = 0; j < keys; j++) {
                    double p = pf.get(po + row + j);
                    df.put(d0 + row + j, (float) (scale * p * (gf.get(go + row + j) - dot)));
                }
            }
        });
    }

    @Override
    public void rope(Tensor x, int[] positions, double theta, RopeLayout layout, boolean inverse, Tensor out) {
        KernelContract.checkRope(x, positions, theta, layout, out);
        int heads = x.dim(1), steps = x.dim(2), headSize = x.dim(3), half = headSize / 2;
        int rows = x.rows();   // batch · heads · T rows of (headSize)
        boolean perSequence = positions.length != steps;
        int angles = positions.length;   // T, or batch · T when each sequence has its own positions
        double[] cos = new double[angles * half], sin = new double[angles * half];   // (angles, headSize/2)
        for (int j = 0; j < half; j++) {
            double frequency = Math.pow(theta, -2.0 * j / headSize);
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
        int pad = 4 - x.rank();
        int[] shape = new int[4];      // x's shape, left-padded with 1s to rank 4
        int[] axis = new int[4];       // out axis i reads x axis axis[i] (padded)
        for (int i = 0; i < 4; i++) {
            shape[i] = i < pad ? 1 : x.dim(i - pad);
            axis[i] = i < pad ? i : perm[i - pad] + pad;
        }
        long[] stride = new long[4];   // x's element strides
        stride[3] = 1;
        for (int i = 2; i >= 0; i--) stride[i] = stride[i + 1] * shape[i + 1];
        int o0 = shape[axis[0]], o1 = shape[axis[1]], o2 = shape[axis[2]], o3 = shape[axis[3]];   // out's shape
        long s0 = stride[axis[0]], s1 = stride[axis[1]], s2 = stride[axis[2]], s3 = stride[axis[3]];
        FloatBuffer xf = floats(x), of = floats(out);
        int xo = at(x), oo = at(out);
        parallel.forRows(o0 * o1 * o2, o3, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int i2 = r % o2, i1 = (r / o2) % o1, i0 = r / (o2 * o1);
                long src = xo + i0 * s0 + i1 * s1 + i2 * s2;
                int dst = oo + r * o3;
                for (int i3 = 0; i3 < o3; i3++) of.put(dst + i3, xf.get((int) (src + i3 * s3)));
            }
        });
    }

    // ---- embeddings and the loss ---------------------------------------------------------------------

    @Override
    public void gather(Tensor table, int[] ids, Tensor out) {
        KernelContract.checkGather(table, ids, out);
        int dim = table.dim(1);   // table: (vocab, dim), out: (ids, dim)
        FloatBuffer tf = floats(table), of = floats(out);
        int to = at(table), oo = at(out);
        parallel.forRows(ids.length, dim, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int src = to + ids[r] * dim, dst = oo + r * dim;
                for (int c = 0; c < dim; c++) of.put(dst + c, tf.get(src + c));
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
            for (int r = r0; r < r1; r++) {
                int row = r * vocab, target = targets[r];
                if (target == KernelContract.IGNORE_INDEX) {
                    if (df != null) for (int v = 0; v < vocab; v++) df.put(d0 + row + v, 0f);
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < vocab; v++) max = Math.max(max, lf.get(lo + row + v));
                double sum = 0;
                for (int v = 0; v < vocab; v++) sum += Math.exp(lf.get(lo + row + v) - max);
                double logSum = max + Math.log(sum);
                // PyTorch: F.cross_entropy(logits, targets, ignore_index=-100, reduction='sum')
                losses[r] = logSum - lf.get(lo + row + target);
                if (df != null) {
                    for (int v = 0; v < vocab; v++) {
                        double p = Math.exp(lf.get(lo + row + v) - logSum);
                        df.put(d0 + row + v, (float) (dScale * (v == target ? p - 1 : p)));
                    }
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

    // ---- activations, in double so that float results round once ---------------------------------------

    /**
     * {@code op.apply(x)} to double rounding, with one {@code Math.exp} where it can: GPT-2's GELU as
     * 0.5·x·(1 + tanh(u)) = x·σ(2u), avoiding the much slower {@code Math.tanh}.
     */
    private static double activation(UnaryOp op, double x) {
        return switch (op) {
            case GELU_TANH -> x * sigmoid(2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
            case GELU_ERF -> 0.5 * x * (1 + Erf.erf(x * INV_SQRT_2));
            case SILU -> silu(x);
        };
    }

    /** {@code op.derivative(x)}, computed as {@link #activation} is. */
    private static double activationDerivative(UnaryOp op, double x) {
        return switch (op) {
            case GELU_TANH -> {
                // 0.5·(1 + tanh u) + 0.5·x·(1 − tanh²u)·u' with s = σ(2u): s + 2·x·s·(1 − s)·u'
                double s = sigmoid(2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
                double du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
                yield s + 2 * x * s * (1 - s) * du;
            }
            case GELU_ERF -> 0.5 * (1 + Erf.erf(x * INV_SQRT_2)) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
            case SILU -> {
                double s = sigmoid(x);
                yield s * (1 + x * (1 - s));
            }
        };
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    private static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
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

    /** The tensor's first element as an index into its buffer's float view. */
    private static int at(Tensor t) {
        return (int) t.offset();
    }

    private FloatPointer pointer(Tensor t) {
        return own(t.buffer(), "cpu kernel").pointerAt(t.offset());
    }

    /** A parallel loop over [0, size) elements, in blocks of {@link #BLOCK}; {@code cost} is per element. */
    private void forElements(long size, int cost, ParallelRows.Body body) {
        int n = (int) size;
        int blocks = (int) ((size + BLOCK - 1) / BLOCK);
        parallel.forRows(blocks, (long) BLOCK * cost,
                (b0, b1) -> body.run((int) Math.min(n, (long) b0 * BLOCK), (int) Math.min(n, (long) b1 * BLOCK)));
    }
}
