package dev.promptgrad.backend;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;

/**
 * The Backend SPI: memory plus the short list of kernels a device must run for a transformer's forward
 * and frozen-weight backward. Kernels see contiguous row-major {@link Tensor} views, never the tape or a
 * model. Unless a kernel says otherwise, outputs are overwritten (not accumulated), shapes must match as
 * documented (a mismatch throws {@link IllegalArgumentException}), and an output must not overlap an input.
 * {@link ReferenceBackend} is the oracle; every backend passes the same contract suite against it.
 */
public interface Backend extends AutoCloseable {

    /** A short name for messages and benchmarks, e.g. {@code "cpu"}. */
    String name();

    /**
     * Whether tensors of this element type can be allocated here: F32 always; F64 on the reference backend; BF16
     * (frozen weights, read by {@link #gemm} and {@link #gather} only) where the backend says so.
     */
    boolean supports(DType dtype);

    // ---- memory -------------------------------------------------------------------------------------

    /** Allocates {@code elements} uninitialised elements. Only {@code Owner}s call this. */
    Buffer allocate(DType dtype, long elements, String label);

    /** Frees a buffer this backend allocated; it is marked released and any later use throws. */
    void release(Buffer buffer);

    /** Bytes currently allocated and not yet released, over all owners. */
    long liveBytes();

    /**
     * Copies host values into {@code dst}; {@code src.length} must equal {@code dst.size()}. Into a BF16 tensor each
     * value is rounded to the nearest bfloat16, ties to even (exact for values that came from a BF16 file).
     */
    void upload(float[] src, Tensor dst);

    /** As {@link #upload(float[], Tensor)}; values are rounded to float when {@code dst} is F32. */
    void upload(double[] src, Tensor dst);

    /** Copies {@code src} to a new host array (F64 values are rounded to float; BF16 ones widened exactly). */
    float[] download(Tensor src);

    /** Copies {@code src} to a new host array of doubles (exact for every dtype). */
    double[] downloadDouble(Tensor src);

    /** Sets every element of {@code dst} to {@code value}. */
    void fill(Tensor dst, double value);

    /** {@code dst = src}; equal sizes, shapes may differ (a reshaping copy). */
    void copy(Tensor src, Tensor dst);

    /** Waits until all queued work is done (a no-op on synchronous backends). */
    default void synchronize() {
    }

    // ---- element-wise --------------------------------------------------------------------------------

    /**
     * {@code out[i] = a[i] + b[i mod b.size()]}: a residual add when sizes are equal, a bias add when
     * {@code b} is one row of {@code a}'s last dimension. {@code out} has {@code a}'s size and may be
     * {@code a} itself (or {@code b}, when sizes are equal): this is how gradients accumulate.
     */
    void add(Tensor a, Tensor b, Tensor out);

    /** {@code out = alpha · x}; {@code out} may be {@code x}. */
    void scale(Tensor x, double alpha, Tensor out);

    /**
     * Sums the rows of {@code x} (rows × cols, cols = last dimension) into {@code out} (cols):
     * a bias's gradient. Overwrites, or adds to {@code out} when {@code accumulate}.
     */
    void sumRows(Tensor x, Tensor out, boolean accumulate);

    /** {@code out = op(x)}; {@code out} may be {@code x}. */
    void unary(UnaryOp op, Tensor x, Tensor out);

    /** {@code dx = dOut · op'(x)}; {@code dx} may be {@code dOut}. */
    void unaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx);

    /** SwiGLU: {@code out = silu(gate) · up}, all the same size. */
    void swiglu(Tensor gate, Tensor up, Tensor out);

    /**
     * SwiGLU backward: {@code dGate = dOut · up · silu'(gate)}, {@code dUp = dOut · silu(gate)}.
     * Either output may be null when that gradient is not wanted.
     */
    void swigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp);

    // ---- normalisation (row-wise over the last dimension) -------------------------------------------

    /**
     * LayerNorm per row: {@code out = (x − mean) · rstd · gamma + beta} with
     * {@code rstd = 1/√(var + eps)} (biased variance). {@code beta} may be null. When {@code mean} and
     * {@code rstd} (one element per row) are non-null they receive the statistics backward needs.
     */
    void layerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean, Tensor rstd);

    /** LayerNorm's input gradient from the saved statistics (gamma and beta are frozen: no gradient). */
    void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut, Tensor dx);

    /**
     * RMSNorm per row: {@code out = x · rstd · weight}, {@code rstd = 1/√(mean(x²) + eps)}.
     * {@code rstd} (one per row) may be null; when present it receives the statistic backward needs.
     */
    void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd);

    /** RMSNorm's input gradient from the saved {@code rstd} (the weight is frozen: no gradient). */
    void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx);

    // ---- matrix products -------------------------------------------------------------------------------

    /**
     * Strided-batched row-major GEMM as described by {@code g}. With {@code g.beta() != 0}, C accumulates;
     * with beta 0, C's old contents are ignored (even NaN). Views must hold every matrix the strides reach.
     * C is F32 (or F64 where supported); A and B have C's dtype, except that one of them may be a BF16 weight
     * when C is F32: its elements are widened exactly to float32, so the product is the float32 product of
     * the bfloat16 values.
     */
    void gemm(Gemm g, Tensor a, Tensor b, Tensor c);

    // ---- attention pieces --------------------------------------------------------------------------------

    /**
     * Masked, scaled softmax over the last dimension of scores [batch, heads, queries, keys]:
     * {@code probs = softmax(scale · scores)} where masked keys get probability 0. With {@code causal},
     * query i sees keys j ≤ i + (keys − queries) (so a decode step with a cache sees all earlier keys).
     * {@code keyMask} [batch, keys] (1 = attend, 0 = padding) may be null. A row with no visible key
     * becomes all zeros. {@code probs} may be {@code scores}.
     */
    void softmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs);

    /**
     * Backward of {@link #softmax}: {@code dScores = scale · probs · (dProbs − Σ_j probs·dProbs)} per row.
     * Masked entries (probs 0) get 0. {@code dScores} may be {@code dProbs}.
     */
    void softmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores);

    /**
     * Rotary position embedding on x [batch, heads, T, headSize] (headSize even): pair j of the feature pairs
     * chosen by {@code layout} at time step t of sequence b is rotated by angle {@code p · frequencies.inverse(j)}
     * ({@code p · θ^(−2j/headSize)} for plain RoPE; {@code frequencies.headSize()} must be headSize); with
     * {@code inverse} by minus that angle (RoPE's backward, since rotations are orthogonal). {@code positions}
     * holds either T values, shared by every sequence ({@code p = positions[t]}), or batch · T values, one row
     * per sequence ({@code p = positions[b·T + t]}, e.g. left-padded sequences that start at different
     * columns). {@code out} may be {@code x}.
     */
    void rope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout, boolean inverse, Tensor out);

    /**
     * Permutes the axes of x (rank ≤ {@link KernelContract#MAX_PERMUTE_RANK}, 5): {@code out} has shape
     * {@code x.shape[perm[i]]} and {@code out[i0,i1,..] = x[..]} with out axis i reading x axis perm[i]. E.g. perm
     * {0,2,1,3} turns [batch, T, heads, headSize] into [batch, heads, T, headSize].
     */
    void permute(Tensor x, int[] perm, Tensor out);

    // ---- embeddings and the loss ---------------------------------------------------------------------

    /**
     * {@code out[i] = table[ids[i]]}: rows of a [vocab, dim] table into [ids.length, dim]. The table may be a BF16
     * weight when out is F32 (rows widened exactly).
     */
    void gather(Tensor table, int[] ids, Tensor out);

    /**
     * Fused cross-entropy over logits [rows, vocab]: returns Σ over rows with {@code targets[r] != -100} of
     * {@code −log softmax(logits[r])[targets[r]]}, summed in double. When {@code dLogits} is non-null it
     * receives {@code dScale · (softmax(logits[r]) − onehot(targets[r]))} for those rows and 0 for ignored
     * ones; it may be {@code logits} itself.
     */
    double crossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits);

    /** Index of the largest element of each row of x [rows, cols]; ties go to the lowest index. */
    int[] argmax(Tensor x);

    /** Releases backend-wide resources (thread pools, handles). Owners must be closed first. */
    @Override
    void close();
}
