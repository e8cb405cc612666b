package dev.promptgrad.backend;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;

import java.util.Map;
import java.util.TreeMap;

/**
 * A decorator that runs every call on another backend and times it: wall-clock nanoseconds and calls per
 * kernel kind (its method name, e.g. {@code "gemm"}, {@code "layerNorm"}), and the GEMMs' FLOPs. A kernel's
 * time runs from the call until the delegate has finished it ({@link Backend#synchronize()} is called before
 * the clock stops, a no-op on synchronous backends). The profile in docs/performance.md comes from it. It is not
 * thread-safe and changes no result; closing it closes the backend it wraps.
 */
public final class TimingBackend implements Backend {

    /** One kernel kind's totals since the last reset. */
    public record Kernel(String name, long calls, long nanos) {
    }

    private final Backend delegate;
    private final Map<String, long[]> byKernel = new TreeMap<>();   // name -> {calls, nanos}
    private final Map<String, long[]> byGemmShape = new TreeMap<>();   // shape -> {calls, nanos}
    private long gemmFlops;

    public TimingBackend(Backend delegate) {
        this.delegate = delegate;
    }

    /** The backend doing the work. */
    public Backend delegate() {
        return delegate;
    }

    /** Calls and time per kernel kind since the last reset, by name. */
    public Map<String, Kernel> kernels() {
        Map<String, Kernel> result = new TreeMap<>();
        byKernel.forEach((name, totals) -> result.put(name, new Kernel(name, totals[0], totals[1])));
        return result;
    }

    /**
     * The GEMMs' calls and time by shape, named {@code "batch×m×n×k"} with {@code T} after a transposed operand
     * (e.g. {@code "1×592×50257×768 Bᵀ"}), since the last reset.
     */
    public Map<String, Kernel> gemmsByShape() {
        Map<String, Kernel> result = new TreeMap<>();
        byGemmShape.forEach((name, totals) -> result.put(name, new Kernel(name, totals[0], totals[1])));
        return result;
    }

    /** Nanoseconds spent in all kernels since the last reset. */
    public long totalNanos() {
        long sum = 0;
        for (long[] totals : byKernel.values()) sum += totals[1];
        return sum;
    }

    /** Sum of {@link Gemm#flops()} over the GEMMs since the last reset. */
    public long gemmFlops() {
        return gemmFlops;
    }

    /** Zeroes every total. */
    public void reset() {
        byKernel.clear();
        byGemmShape.clear();
        gemmFlops = 0;
    }

    private long record(String kernel, long start) {
        delegate.synchronize();
        long elapsed = System.nanoTime() - start;
        long[] totals = byKernel.computeIfAbsent(kernel, k -> new long[2]);
        totals[0]++;
        totals[1] += elapsed;
        return elapsed;
    }

    @Override
    public String name() {
        return "timing(" + delegate.name() + ")";
    }

    @Override
    public boolean supports(DType dtype) {
        return delegate.supports(dtype);
    }

    @Override
    public Buffer allocate(DType dtype, long elements, String label) {
        long start = System.nanoTime();
        Buffer result = delegate.allocate(dtype, elements, label);
        record("allocate", start);
        return result;
    }

    @Override
    public void release(Buffer buffer) {
        long start = System.nanoTime();
        delegate.release(buffer);
        record("release", start);
    }

    @Override
    public long liveBytes() {
        return delegate.liveBytes();
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        long start = System.nanoTime();
        delegate.upload(src, dst);
        record("upload", start);
    }

    @Override
    public void upload(double[] src, Tensor dst) {
        long start = System.nanoTime();
        delegate.upload(src, dst);
        record("upload", start);
    }

    @Override
    public float[] download(Tensor src) {
        long start = System.nanoTime();
        float[] result = delegate.download(src);
        record("download", start);
        return result;
    }

    @Override
    public double[] downloadDouble(Tensor src) {
        long start = System.nanoTime();
        double[] result = delegate.downloadDouble(src);
        record("download", start);
        return result;
    }

    @Override
    public void fill(Tensor dst, double value) {
        long start = System.nanoTime();
        delegate.fill(dst, value);
        record("fill", start);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        long start = System.nanoTime();
        delegate.copy(src, dst);
        record("copy", start);
    }

    @Override
    public void synchronize() {
        delegate.synchronize();
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        long start = System.nanoTime();
        delegate.add(a, b, out);
        record("add", start);
    }

    @Override
    public void scale(Tensor x, double alpha, Tensor out) {
        long start = System.nanoTime();
        delegate.scale(x, alpha, out);
        record("scale", start);
    }

    @Override
    public void sumRows(Tensor x, Tensor out, boolean accumulate) {
        long start = System.nanoTime();
        delegate.sumRows(x, out, accumulate);
        record("sumRows", start);
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        long start = System.nanoTime();
        delegate.unary(op, x, out);
        record("unary", start);
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        long start = System.nanoTime();
        delegate.unaryBackward(op, x, dOut, dx);
        record("unaryBackward", start);
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out) {
        long start = System.nanoTime();
        delegate.swiglu(gate, up, out);
        record("swiglu", start);
    }

    @Override
    public void swigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) {
        long start = System.nanoTime();
        delegate.swigluBackward(gate, up, dOut, dGate, dUp);
        record("swigluBackward", start);
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean, Tensor rstd) {
        long start = System.nanoTime();
        delegate.layerNorm(x, gamma, beta, eps, out, mean, rstd);
        record("layerNorm", start);
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut, Tensor dx) {
        long start = System.nanoTime();
        delegate.layerNormBackward(x, gamma, mean, rstd, dOut, dx);
        record("layerNormBackward", start);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        long start = System.nanoTime();
        delegate.rmsNorm(x, weight, eps, out, rstd);
        record("rmsNorm", start);
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx) {
        long start = System.nanoTime();
        delegate.rmsNormBackward(x, weight, rstd, dOut, dx);
        record("rmsNormBackward", start);
    }

    @Override
    public void gemm(Gemm g, Tensor a, Tensor b, Tensor c) {
        long start = System.nanoTime();
        delegate.gemm(g, a, b, c);
        gemmFlops += g.flops();
        long elapsed = record("gemm", start);
        String shape = g.batch() + "×" + g.m() + "×" + g.n() + "×" + g.k() + (g.transA() ? " Aᵀ" : "")
                + (g.transB() ? " Bᵀ" : "");
        long[] totals = byGemmShape.computeIfAbsent(shape, k -> new long[2]);
        totals[0]++;
        totals[1] += elapsed;
    }

    @Override
    public void softmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs) {
        long start = System.nanoTime();
        delegate.softmax(scores, scale, causal, keyMask, probs);
        record("softmax", start);
    }

    @Override
    public void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        long start = System.nanoTime();
        delegate.softmaxBackward(probs, dProbs, scale, dScores);
        record("softmaxBackward", start);
    }

    @Override
    public void rope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout, boolean inverse,
                     Tensor out) {
        long start = System.nanoTime();
        delegate.rope(x, positions, frequencies, layout, inverse, out);
        record("rope", start);
    }

    @Override
    public void permute(Tensor x, int[] perm, Tensor out) {
        long start = System.nanoTime();
        delegate.permute(x, perm, out);
        record("permute", start);
    }

    @Override
    public void gather(Tensor table, int[] ids, Tensor out) {
        long start = System.nanoTime();
        delegate.gather(table, ids, out);
        record("gather", start);
    }

    @Override
    public double crossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits) {
        long start = System.nanoTime();
        double result = delegate.crossEntropy(logits, targets, dScale, dLogits);
        record("crossEntropy", start);
        return result;
    }

    @Override
    public int[] argmax(Tensor x) {
        long start = System.nanoTime();
        int[] result = delegate.argmax(x);
        record("argmax", start);
        return result;
    }

    @Override
    public void close() {
        delegate.close();
    }
}
