package dev.promptgrad.backend;

import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The oracle: every {@link Backend} kernel as plain Java loops with double accumulators, written to be read.
 * Storage is a {@code double[]} per buffer; F32 buffers round every stored value to float (BF16 ones to
 * bfloat16), so F32 tensors behave as float32 and F64 tensors are exact (for finite-difference gradient checks). It is single-threaded
 * and slow on purpose: other backends are tested against it, never the other way round.
 */
public final class ReferenceBackend implements Backend {

    private final AtomicLong liveBytes = new AtomicLong();

    /** Host storage: one double per element, rounded to the dtype (float, bfloat16) on every store. */
    private static final class HostBuffer extends Buffer {
        private final ReferenceBackend allocator;
        private double[] values;   // (length); null once released

        HostBuffer(ReferenceBackend allocator, DType dtype, int length, String label) {
            super(dtype, length, label);
            this.allocator = allocator;
            this.values = new double[length];
        }

        /** Marks the buffer released and drops its storage; false if it already was. */
        synchronized boolean free() {
            if (isReleased()) return false;
            markReleased();
            values = null;
            return true;
        }
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public boolean supports(DType dtype) {
        return true;   // F32, F64 and BF16: elements are doubles rounded to their dtype on every store
    }

    // ---- memory -------------------------------------------------------------------------------------

    @Override
    public Buffer allocate(DType dtype, long elements, String label) {
        KernelContract.checkAllocate(this, dtype, elements, label);
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("allocate: the reference backend holds at most " + (Integer.MAX_VALUE - 8)
                    + " elements per buffer, but " + label + " asked for " + elements);
        }
        HostBuffer buffer = new HostBuffer(this, dtype, (int) elements, label);
        liveBytes.addAndGet(buffer.bytes());
        return buffer;
    }

    @Override
    public void release(Buffer buffer) {
        HostBuffer host = ownBuffer(buffer, "release");
        if (!host.free()) {
            throw new IllegalStateException("release: buffer of " + buffer.label() + " was already released");
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
        for (int i = 0; i < src.length; i++) set(dst, i, src[i]);
    }

    @Override
    public void upload(double[] src, Tensor dst) {
        KernelContract.checkUpload(src.length, dst);
        for (int i = 0; i < src.length; i++) set(dst, i, src[i]);
    }

    @Override
    public float[] download(Tensor src) {
        KernelContract.checkDownload(src);
        float[] host = new float[(int) src.size()];
        for (int i = 0; i < host.length; i++) host[i] = (float) get(src, i);
        return host;
    }

    @Override
    public double[] downloadDouble(Tensor src) {
        KernelContract.checkDownload(src);
        double[] host = new double[(int) src.size()];
        for (int i = 0; i < host.length; i++) host[i] = get(src, i);
        return host;
    }

    @Override
    public void fill(Tensor dst, double value) {
        KernelContract.checkFill(dst);
        for (long i = 0; i < dst.size(); i++) set(dst, i, value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        KernelContract.checkCopy(src, dst);
        for (long i = 0; i < src.size(); i++) set(dst, i, get(src, i));
    }

    // ---- element-wise --------------------------------------------------------------------------------

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        KernelContract.checkAdd(a, b, out);
        long bSize = b.size();
        // PyTorch: out = a + b   (b broadcast over a's leading dimensions)
        for (long i = 0; i < a.size(); i++) set(out, i, get(a, i) + get(b, i % bSize));
    }

    @Override
    public void scale(Tensor x, double alpha, Tensor out) {
        KernelContract.checkScale(x, out);
        for (long i = 0; i < x.size(); i++) set(out, i, alpha * get(x, i));
    }

    @Override
    public void sumRows(Tensor x, Tensor out, boolean accumulate) {
        KernelContract.checkSumRows(x, out);
        int cols = x.rank() == 0 ? 1 : x.dim(-1);
        int rows = x.rows();
        // PyTorch: out (+)= x.reshape(-1, cols).sum(dim=0)
        for (int c = 0; c < cols; c++) {
            double sum = accumulate ? get(out, c) : 0;
            for (int r = 0; r < rows; r++) sum += get(x, (long) r * cols + c);
            set(out, c, sum);
        }
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        KernelContract.checkUnary(op, x, out);
        for (long i = 0; i < x.size(); i++) set(out, i, op.apply(get(x, i)));
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        KernelContract.checkUnaryBackward(op, x, dOut, dx);
        for (long i = 0; i < x.size(); i++) set(dx, i, get(dOut, i) * op.derivative(get(x, i)));
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out) {
        KernelContract.checkSwiglu(gate, up, out);
        // PyTorch: out = F.silu(gate) * up
        for (long i = 0; i < gate.size(); i++) set(out, i, UnaryOp.SILU.apply(get(gate, i)) * get(up, i));
    }

    @Override
    public void swigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) {
        KernelContract.checkSwigluBackward(gate, up, dOut, dGate, dUp);
        for (long i = 0; i < gate.size(); i++) {
            double g = get(gate, i), u = get(up, i), d = get(dOut, i);
            if (dGate != null) set(dGate, i, d * u * UnaryOp.SILU.derivative(g));
            if (dUp != null) set(dUp, i, d * UnaryOp.SILU.apply(g));
        }
    }

    // ---- normalisation (row-wise over the last dimension) -------------------------------------------

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean, Tensor rstd) {
        KernelContract.checkLayerNorm(x, gamma, beta, eps, out, mean, rstd);
        int cols = x.dim(-1);
        for (int r = 0; r < x.rows(); r++) {
            double[] row = readRow(x, r, cols);   // (cols)
            double mu = 0;
            for (double v : row) mu += v;
            mu /= cols;
            double variance = 0;
            for (double v : row) variance += (v - mu) * (v - mu);
            variance /= cols;   // biased, as torch.nn.LayerNorm
            double invStd = 1 / Math.sqrt(variance + eps);
            // PyTorch: out = (x - x.mean(-1)) / sqrt(x.var(-1, unbiased=False) + eps) * gamma + beta
            for (int c = 0; c < cols; c++) {
                double shift = beta == null ? 0 : get(beta, c);
                set(out, (long) r * cols + c, (row[c] - mu) * invStd * get(gamma, c) + shift);
            }
            if (mean != null) set(mean, r, mu);
            if (rstd != null) set(rstd, r, invStd);
        }
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut, Tensor dx) {
        KernelContract.checkLayerNormBackward(x, gamma, mean, rstd, dOut, dx);
        int cols = x.dim(-1);
        for (int r = 0; r < x.rows(); r++) {
            double mu = get(mean, r), invStd = get(rstd, r);
            double[] xHat = new double[cols];   // normalised input
            double[] g = new double[cols];      // dOut · gamma: the gradient reaching xHat
            double meanG = 0, meanGxHat = 0;
            for (int c = 0; c < cols; c++) {
                xHat[c] = (get(x, (long) r * cols + c) - mu) * invStd;
                g[c] = get(dOut, (long) r * cols + c) * get(gamma, c);
                meanG += g[c];
                meanGxHat += g[c] * xHat[c];
            }
            meanG /= cols;
            meanGxHat /= cols;
            // dx = rstd · ((1) g − (2) mean(g) − (3) xHat · mean(g · xHat))   (docs/autograd.md#layernorm)
            // (1) the direct path through xHat, (2) through the mean, (3) through rstd
            for (int c = 0; c < cols; c++) {
                set(dx, (long) r * cols + c, invStd * (g[c] - meanG - xHat[c] * meanGxHat));
            }
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        KernelContract.checkRmsNorm(x, weight, eps, out, rstd);
        int cols = x.dim(-1);
        for (int r = 0; r < x.rows(); r++) {
            double[] row = readRow(x, r, cols);   // (cols)
            double meanSquare = 0;
            for (double v : row) meanSquare += v * v;
            meanSquare /= cols;
            double invRms = 1 / Math.sqrt(meanSquare + eps);
            // PyTorch: out = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
            for (int c = 0; c < cols; c++) set(out, (long) r * cols + c, row[c] * invRms * get(weight, c));
            if (rstd != null) set(rstd, r, invRms);
        }
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx) {
        KernelContract.checkRmsNormBackward(x, weight, rstd, dOut, dx);
        int cols = x.dim(-1);
        for (int r = 0; r < x.rows(); r++) {
            double invRms = get(rstd, r);
            double[] row = readRow(x, r, cols);   // (cols)
            double[] g = new double[cols];        // dOut · weight
            double meanGx = 0;
            for (int c = 0; c < cols; c++) {
                g[c] = get(dOut, (long) r * cols + c) * get(weight, c);
                meanGx += g[c] * row[c];
            }
            meanGx /= cols;
            // dx = (1) rstd · g − (2) x · rstd³ · mean(g · x)   (docs/autograd.md#rmsnorm)
            // (1) the direct path through x, (2) through rstd
            for (int c = 0; c < cols; c++) {
                set(dx, (long) r * cols + c, invRms * g[c] - row[c] * invRms * invRms * invRms * meanGx);
            }
        }
    }

    // ---- matrix products -------------------------------------------------------------------------------

    @Override
    public void gemm(Gemm g, Tensor a, Tensor b, Tensor c) {
        KernelContract.checkGemm(g, a, b, c);
        double alpha = g.alpha(), beta = g.beta();
        for (int batch = 0; batch < g.batch(); batch++) {
            long aBase = batch * g.strideA(), bBase = batch * g.strideB(), cBase = batch * g.strideC();
            for (int i = 0; i < g.m(); i++) {
                for (int j = 0; j < g.n(); j++) {
                    double dot = 0;
                    for (int p = 0; p < g.k(); p++) {
                        // op(A)[i, p] and op(B)[p, j], read through the transposes as stored
                        double aip = get(a, aBase + (g.transA() ? (long) p * g.m() + i : (long) i * g.k() + p));
                        double bpj = get(b, bBase + (g.transB() ? (long) j * g.k() + p : (long) p * g.n() + j));
                        dot += aip * bpj;
                    }
                    long cij = cBase + (long) i * g.n() + j;
                    double old = beta == 0 ? 0 : beta * get(c, cij);   // beta 0 never reads C (it may hold NaN)
                    set(c, cij, alpha * dot + old);
                }
            }
        }
    }

    // ---- attention pieces --------------------------------------------------------------------------------

    @Override
    public void softmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs) {
        KernelContract.checkSoftmax(scores, scale, causal, keyMask, probs);
        int batches = scores.dim(0), heads = scores.dim(1), queries = scores.dim(2), keys = scores.dim(3);
        for (int b = 0; b < batches; b++) {
            for (int h = 0; h < heads; h++) {
                for (int q = 0; q < queries; q++) {
                    int row = (b * heads + h) * queries + q;
                    double[] logits = readRow(scores, row, keys);   // (keys), read first: probs may be scores
                    boolean[] visible = new boolean[keys];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < keys; j++) {
                        boolean notPadding = keyMask == null || get(keyMask, (long) b * keys + j) != 0;
                        boolean notFuture = !causal || j <= q + (keys - queries);
                        visible[j] = notPadding && notFuture;
                        if (visible[j]) max = Math.max(max, scale * logits[j]);
                    }
                    // PyTorch: probs = torch.softmax((scale * scores).masked_fill(~visible, -inf), dim=-1)
                    double sum = 0;
                    double[] e = new double[keys];
                    for (int j = 0; j < keys; j++) {
                        e[j] = visible[j] ? Math.exp(scale * logits[j] - max) : 0;
                        sum += e[j];
                    }
                    for (int j = 0; j < keys; j++) {
                        set(probs, (long) row * keys + j, sum == 0 ? 0 : e[j] / sum);   // no visible key: all zeros
                    }
                }
            }
        }
    }

    @Override
    public void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        KernelContract.checkSoftmaxBackward(probs, dProbs, scale, dScores);
        int keys = probs.dim(-1);
        for (int r = 0; r < probs.rows(); r++) {
            double[] p = readRow(probs, r, keys);    // (keys)
            double[] dp = readRow(dProbs, r, keys);  // (keys), read first: dScores may be dProbs
            double dot = 0;
            for (int j = 0; j < keys; j++) dot += p[j] * dp[j];
            // dScores = scale · p · ((1) dp − (2) Σ_j p·dp)   (docs/autograd.md#softmax)
            // (1) each probability's own logit, (2) the shared normaliser; scale from the chain rule
            for (int j = 0; j < keys; j++) set(dScores, (long) r * keys + j, scale * p[j] * (dp[j] - dot));
        }
    }

    @Override
    public void rope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout, boolean inverse,
                     Tensor out) {
        KernelContract.checkRope(x, positions, frequencies, layout, out);
        int batches = x.dim(0), heads = x.dim(1), steps = x.dim(2), headSize = x.dim(3), half = headSize / 2;
        boolean perSequence = positions.length != steps;   // (batch, T) rather than (T)
        for (int b = 0; b < batches; b++) {
            for (int h = 0; h < heads; h++) {
                for (int t = 0; t < steps; t++) {
                    int row = (b * heads + h) * steps + t;
                    int position = positions[perSequence ? b * steps + t : t];
                    double[] v = readRow(x, row, headSize);   // (headSize), read first: out may be x
                    for (int j = 0; j < half; j++) {
                        double angle = position * frequencies.inverse(j);
                        if (inverse) angle = -angle;
                        double cos = Math.cos(angle), sin = Math.sin(angle);
                        int first = layout == RopeLayout.ROTATE_HALF ? j : 2 * j;
                        int second = layout == RopeLayout.ROTATE_HALF ? j + half : 2 * j + 1;
                        long base = (long) row * headSize;
                        set(out, base + first, v[first] * cos - v[second] * sin);
                        set(out, base + second, v[first] * sin + v[second] * cos);
                    }
                }
            }
        }
    }

    @Override
    public void permute(Tensor x, int[] perm, Tensor out) {
        KernelContract.checkPermute(x, perm, out);
        int rank = x.rank();
        int[] outShape = out.shape();
        long[] xStrides = new long[rank];   // row-major element strides of x
        long stride = 1;
        for (int axis = rank - 1; axis >= 0; axis--) {
            xStrides[axis] = stride;
            stride *= x.dim(axis);
        }
        int[] coord = new int[rank];        // the current element's coordinates in out
        for (long o = 0; o < out.size(); o++) {
            long src = 0;
            for (int i = 0; i < rank; i++) src += coord[i] * xStrides[perm[i]];   // out axis i walks x axis perm[i]
            set(out, o, get(x, src));
            for (int i = rank - 1; i >= 0; i--) {   // advance coord like an odometer, last axis fastest
                if (++coord[i] < outShape[i]) break;
                coord[i] = 0;
            }
        }
    }

    // ---- embeddings and the loss ---------------------------------------------------------------------

    @Override
    public void gather(Tensor table, int[] ids, Tensor out) {
        KernelContract.checkGather(table, ids, out);
        int dim = table.dim(1);
        // PyTorch: out = table[ids]
        for (int i = 0; i < ids.length; i++) {
            for (int c = 0; c < dim; c++) set(out, (long) i * dim + c, get(table, (long) ids[i] * dim + c));
        }
    }

    @Override
    public double crossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits) {
        KernelContract.checkCrossEntropy(logits, targets, dScale, dLogits);
        int vocab = logits.dim(-1);
        double loss = 0;
        for (int r = 0; r < targets.length; r++) {
            if (targets[r] == KernelContract.IGNORE_INDEX) {
                if (dLogits != null) for (int v = 0; v < vocab; v++) set(dLogits, (long) r * vocab + v, 0);
                continue;
            }
            double[] row = readRow(logits, r, vocab);   // (vocab), read first: dLogits may be logits
            double max = Double.NEGATIVE_INFINITY;
            for (double z : row) max = Math.max(max, z);
            double sumExp = 0;
            for (double z : row) sumExp += Math.exp(z - max);
            double logSumExp = max + Math.log(sumExp);
            // PyTorch: loss = F.cross_entropy(logits, targets, ignore_index=-100, reduction="sum")
            loss += logSumExp - row[targets[r]];
            if (dLogits != null) {
                for (int v = 0; v < vocab; v++) {
                    double p = Math.exp(row[v] - logSumExp);
                    set(dLogits, (long) r * vocab + v, dScale * (p - (v == targets[r] ? 1 : 0)));
                }
            }
        }
        return loss;
    }

    @Override
    public int[] argmax(Tensor x) {
        KernelContract.checkArgmax(x);
        int cols = x.dim(-1);
        int[] best = new int[x.rows()];
        for (int r = 0; r < best.length; r++) {
            double max = get(x, (long) r * cols);
            for (int c = 1; c < cols; c++) {
                double v = get(x, (long) r * cols + c);
                if (v > max) {   // strictly greater: ties keep the lowest index
                    max = v;
                    best[r] = c;
                }
            }
        }
        return best;
    }

    /** The reference backend holds nothing beyond its buffers, which their owners free. */
    @Override
    public void close() {
    }

    // ---- element access ------------------------------------------------------------------------------

    /** Element {@code i} of the view {@code t}. The kernel's contract check has already proven {@code t} live. */
    private double get(Tensor t, long i) {
        return hostBuffer(t.buffer(), "read").values[(int) (t.offset() + i)];
    }

    /** Stores {@code value} at element {@code i} of {@code t}, rounded to float (F32) or to bfloat16 through float (BF16). */
    private void set(Tensor t, long i, double value) {
        HostBuffer buffer = hostBuffer(t.buffer(), "write");
        buffer.values[(int) (t.offset() + i)] = switch (buffer.dtype()) {
            case F64 -> value;
            case F32 -> (float) value;
            case BF16 -> HalfFloats.bf16ToFloat(HalfFloats.floatToBf16((float) value));
        };
    }

    /** Row {@code row} (of length {@code cols}) of {@code t}, copied out so the kernel may overwrite it. */
    private double[] readRow(Tensor t, int row, int cols) {
        double[] copy = new double[cols];
        for (int c = 0; c < cols; c++) copy[c] = get(t, (long) row * cols + c);
        return copy;
    }

    /** {@code buffer} as this backend's storage, checked to be live. */
    private HostBuffer hostBuffer(Buffer buffer, String use) {
        HostBuffer host = ownBuffer(buffer, use);
        host.checkLive();
        return host;
    }

    /** {@code buffer} as this backend's storage, live or not; a buffer of another backend is an error. */
    private HostBuffer ownBuffer(Buffer buffer, String use) {
        if (!(buffer instanceof HostBuffer host) || host.allocator != this) {
            throw new IllegalArgumentException(use + ": buffer of " + (buffer == null ? "null" : buffer.label())
                    + " was not allocated by this reference backend; tensors cannot move between backends");
        }
        return host;
    }
}
