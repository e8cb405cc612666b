package dev.promptgrad.backend;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A decorator that runs every call on another backend and counts it: calls per kernel, each GEMM's
 * shape and FLOPs, and the peak of live bytes. Tests and benchmarks use it to show what a backward pass costs (a frozen weight adds
 * no GEMM). It is not thread-safe and changes no result. Closing it closes the backend it wraps.
 */
public final class CountingBackend implements Backend {
    private final Backend delegate;
    private final Map<String, Long> callsByKernel = new TreeMap<>();
    private final List<Gemm> gemms = new ArrayList<>();
    private long gemmFlops;
    private long peakLiveBytes;   // the largest delegate.liveBytes() seen right after an allocation

    public CountingBackend(Backend delegate) {
        this.delegate = delegate;
    }

    /** The backend doing the work. */
    public Backend delegate() {
        return delegate;
    }

    /** Calls of {@code kernel} (its method name, e.g. {@code "gemm"}) since the last reset. */
    public long calls(String kernel) {
        return callsByKernel.getOrDefault(kernel, 0L);
    }

    /** Calls per kernel since the last reset, by method name. */
    public Map<String, Long> callsByKernel() {
        return new TreeMap<>(callsByKernel);
    }

    /** GEMM calls since the last reset. */
    public long gemmCalls() {
        return gemms.size();
    }

    /** Sum of {@link Gemm#flops()} over the GEMMs since the last reset. */
    public long gemmFlops() {
        return gemmFlops;
    }

    /** The GEMMs since the last reset, in call order. */
    public List<Gemm> gemms() {
        return List.copyOf(gemms);
    }

    /** The most bytes live on the wrapped backend after any allocation since the last reset (or since creation). */
    public long peakLiveBytes() {
        return Math.max(peakLiveBytes, delegate.liveBytes());
    }

    /** Zeroes every count; the live-byte peak restarts from what is live now. */
    public void reset() {
        callsByKernel.clear();
        gemms.clear();
        gemmFlops = 0;
        peakLiveBytes = delegate.liveBytes();
    }

    private void count(String kernel) {
        callsByKernel.merge(kernel, 1L, Long::sum);
    }

    @Override
    public String name() {
        return "counting(" + delegate.name() + ")";
    }

    @Override
    public boolean supports(DType dtype) {
        return delegate.supports(dtype);
    }

    @Override
    public Buffer allocate(DType dtype, long elements, String label) {
        count("allocate");
        Buffer buffer = delegate.allocate(dtype, elements, label);
        peakLiveBytes = Math.max(peakLiveBytes, delegate.liveBytes());
        return buffer;
    }

    @Override
    public void release(Buffer buffer) {
        count("release");
        delegate.release(buffer);
    }

    @Override
    public long liveBytes() {
        return delegate.liveBytes();
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        count("upload");
        delegate.upload(src, dst);
    }

    @Override
    public void upload(double[] src, Tensor dst) {
        count("upload");
        delegate.upload(src, dst);
    }

    @Override
    public float[] download(Tensor src) {
        count("download");
        return delegate.download(src);
    }

    @Override
    public double[] downloadDouble(Tensor src) {
        count("download");
        return delegate.downloadDouble(src);
    }

    @Override
    public void fill(Tensor dst, double value) {
        count("fill");
        delegate.fill(dst, value);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        count("copy");
        delegate.copy(src, dst);
    }

    @Override
    public void synchronize() {
        count("synchronize");
        delegate.synchronize();
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        count("add");
        delegate.add(a, b, out);
    }

    @Override
    public void scale(Tensor x, double alpha, Tensor out) {
        count("scale");
        delegate.scale(x, alpha, out);
    }

    @Override
    public void sumRows(Tensor x, Tensor out, boolean accumulate) {
        count("sumRows");
        delegate.sumRows(x, out, accumulate);
    }

    @Override
    public void unary(UnaryOp op, Tensor x, Tensor out) {
        count("unary");
        delegate.unary(op, x, out);
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        count("unaryBackward");
        delegate.unaryBackward(op, x, dOut, dx);
    }

    @Override
    public void swiglu(Tensor gate, Tensor up, Tensor out) {
        count("swiglu");
        delegate.swiglu(gate, up, out);
    }

    @Override
    public void swigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) {
        count("swigluBackward");
        delegate.swigluBackward(gate, up, dOut, dGate, dUp);
    }

    @Override
    public void layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean, Tensor rstd) {
        count("layerNorm");
        delegate.layerNorm(x, gamma, beta, eps, out, mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut, Tensor dx) {
        count("layerNormBackward");
        delegate.layerNormBackward(x, gamma, mean, rstd, dOut, dx);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        count("rmsNorm");
        delegate.rmsNorm(x, weight, eps, out, rstd);
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx) {
        count("rmsNormBackward");
        delegate.rmsNormBackward(x, weight, rstd, dOut, dx);
    }

    @Override
    public void gemm(Gemm g, Tensor a, Tensor b, Tensor c) {
        count("gemm");
        gemms.add(g);
        gemmFlops += g.flops();
        delegate.gemm(g, a, b, c);
    }

    @Override
    public void softmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs) {
        count("softmax");
        delegate.softmax(scores, scale, causal, keyMask, probs);
    }

    @Override
    public void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        count("softmaxBackward");
        delegate.softmaxBackward(probs, dProbs, scale, dScores);
    }

    @Override
    public void rope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout, boolean inverse,
                     Tensor out) {
        count("rope");
        delegate.rope(x, positions, frequencies, layout, inverse, out);
    }

    @Override
    public void permute(Tensor x, int[] perm, Tensor out) {
        count("permute");
        delegate.permute(x, perm, out);
    }

    @Override
    public void gather(Tensor table, int[] ids, Tensor out) {
        count("gather");
        delegate.gather(table, ids, out);
    }

    @Override
    public double crossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits) {
        count("crossEntropy");
        return delegate.crossEntropy(logits, targets, dScale, dLogits);
    }

    @Override
    public int[] argmax(Tensor x) {
        count("argmax");
        return delegate.argmax(x);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
