package dev.promptgrad.backend;

import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;

import java.util.Arrays;

/**
 * The argument checks of the {@link Backend} contract, shared by every backend: each kernel calls its
 * {@code checkX} first, so a bad call fails the same way everywhere, with an {@link IllegalArgumentException}
 * naming the kernel, the tensors and the shapes expected. These checks read shapes and host arrays only,
 * never tensor contents (which may live on a device); they are not the kernels' arithmetic.
 */
public final class KernelContract {
    private KernelContract() {
    }

    /** The ignored-target marker of {@link Backend#crossEntropy} (PyTorch's {@code ignore_index}). */
    public static final int IGNORE_INDEX = -100;

    // ---- building blocks -------------------------------------------------------------------------------

    /**
     * Every non-null tensor is still backed by open storage. A null tensor is an argument error; storage
     * freed by a closed owner throws {@link IllegalStateException} from {@code Buffer.checkLive()}.
     */
    public static void checkLive(String kernel, Tensor... tensors) {
        for (int i = 0; i < tensors.length; i++) {
            if (tensors[i] == null) throw new IllegalArgumentException(kernel + ": tensor argument " + i + " is null");
            tensors[i].buffer().checkLive();
        }
    }

    /**
     * No tensor is of a storage-only type (BF16): only matrix products, gathers, uploads, downloads and copies
     * take those; every other kernel computes on F32 or F64 tensors.
     */
    public static void checkArithmetic(String kernel, Tensor... tensors) {
        for (Tensor t : tensors) {
            if (t != null && !t.dtype().isArithmetic()) {
                throw new IllegalArgumentException(kernel + ": " + t + " is " + t.dtype() + ", a storage type for"
                        + " frozen weights that only gemm operands, gather tables, upload, download and copy accept;"
                        + " this kernel needs F32 tensors");
            }
        }
    }

    /** All non-null tensors share one arithmetic element type (F32 or F64). */
    public static void checkSameDType(String kernel, Tensor... tensors) {
        checkArithmetic(kernel, tensors);
        DType first = null;
        Tensor firstTensor = null;
        for (Tensor t : tensors) {
            if (t == null) continue;
            if (first == null) {
                first = t.dtype();
                firstTensor = t;
            } else if (t.dtype() != first) {
                throw new IllegalArgumentException(kernel + ": all tensors must have one dtype, but " + firstTensor
                        + " is " + first + " and " + t + " is " + t.dtype());
            }
        }
    }

    /**
     * An input read alongside the arithmetic tensor {@code out}: of out's dtype, or a BF16 weight when out is F32
     * (the kernel widens each element exactly to float32).
     */
    public static void checkOperandDType(String kernel, String role, Tensor operand, Tensor out) {
        boolean widened = operand.dtype() == DType.BF16 && out.dtype() == DType.F32;
        if (operand.dtype() != out.dtype() && !widened) {
            throw new IllegalArgumentException(kernel + ": " + role + " " + operand + " is " + operand.dtype()
                    + " but " + out + " is " + out.dtype() + "; an input must have the output's dtype, or be a BF16"
                    + " weight read into an F32 output");
        }
    }

    /** {@code a} and {@code b} hold the same number of elements. */
    public static void checkSameSize(String kernel, Tensor a, Tensor b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException(kernel + ": " + a + " and " + b + " must have the same size, but "
                    + a.size() + " != " + b.size());
        }
    }

    /** {@code t} has exactly {@code expected} as its shape. */
    public static void checkShape(String kernel, String role, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape(), expected)) {
            throw new IllegalArgumentException(kernel + ": " + role + " " + t + " must have shape "
                    + Arrays.toString(expected));
        }
    }

    /** {@code t} has rank {@code rank}; {@code meaning} names the axes, e.g. "[batch, heads, queries, keys]". */
    public static void checkRank(String kernel, String role, Tensor t, int rank, String meaning) {
        if (t.rank() != rank) {
            throw new IllegalArgumentException(kernel + ": " + role + " " + t + " must have rank " + rank + " "
                    + meaning + ", not rank " + t.rank());
        }
    }

    /** {@code t} holds one element per row of {@code x} (rows = size / last dimension), e.g. saved statistics. */
    public static void checkRows(String kernel, String role, Tensor t, Tensor x) {
        if (t.size() != x.rows()) {
            throw new IllegalArgumentException(kernel + ": " + role + " " + t + " must hold one element per row of "
                    + x + ", i.e. " + x.rows() + " elements, not " + t.size());
        }
    }

    /** {@code t} holds one element per column of {@code x} (its last dimension), e.g. a gain or a bias. */
    public static void checkCols(String kernel, String role, Tensor t, Tensor x) {
        int cols = x.rank() == 0 ? 1 : x.dim(-1);
        if (t.size() != cols) {
            throw new IllegalArgumentException(kernel + ": " + role + " " + t + " must hold one element per column of "
                    + x + ", i.e. " + cols + " elements, not " + t.size());
        }
    }

    /** The output shares no element with the input (the contract's default rule). */
    public static void checkDisjoint(String kernel, Tensor out, Tensor in) {
        if (overlaps(out, in)) {
            throw new IllegalArgumentException(kernel + ": output " + out + " overlaps input " + in
                    + "; this kernel needs a separate output tensor");
        }
    }

    /** The output is exactly the input (documented in-place use) or shares no element with it. */
    public static void checkSameOrDisjoint(String kernel, Tensor out, Tensor in) {
        if (!out.sameStorage(in) && overlaps(out, in)) {
            throw new IllegalArgumentException(kernel + ": output " + out + " partly overlaps input " + in
                    + "; pass the very same tensor for in-place use, or a separate one");
        }
    }

    /** Whether two views share at least one element of the same buffer. */
    public static boolean overlaps(Tensor a, Tensor b) {
        if (a.buffer() != b.buffer() || a.size() == 0 || b.size() == 0) return false;
        return a.offset() < b.offset() + b.size() && b.offset() < a.offset() + a.size();
    }

    // ---- memory --------------------------------------------------------------------------------------

    /** {@link Backend#allocate}: a supported dtype and a size one host array can address. */
    public static void checkAllocate(Backend backend, DType dtype, long elements, String label) {
        if (dtype == null) throw new IllegalArgumentException("allocate: dtype is null for " + label);
        if (!backend.supports(dtype)) {
            throw new IllegalArgumentException("allocate: backend '" + backend.name() + "' does not support " + dtype
                    + " (asked for by " + label + "); use F32, the reference backend for F64, or a backend that"
                    + " supports BF16 weights");
        }
        if (elements < 0) throw new IllegalArgumentException("allocate: negative size " + elements + " for " + label);
    }

    /** {@link Backend#upload}: one host value per element of {@code dst}. */
    public static void checkUpload(int srcLength, Tensor dst) {
        checkLive("upload", dst);
        if (srcLength != dst.size()) {
            throw new IllegalArgumentException("upload: " + srcLength + " host values do not match " + dst + " of "
                    + dst.size() + " elements");
        }
    }

    /** {@link Backend#download}: the tensor fits in one host array. */
    public static void checkDownload(Tensor src) {
        checkLive("download", src);
        if (src.size() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("download: " + src + " has " + src.size()
                    + " elements, too many for one Java array; download it in slices");
        }
    }

    /** {@link Backend#fill}. */
    public static void checkFill(Tensor dst) {
        checkLive("fill", dst);
        checkArithmetic("fill", dst);
    }

    /** {@link Backend#copy}: equal sizes and dtypes (BF16 included), separate storage. */
    public static void checkCopy(Tensor src, Tensor dst) {
        checkLive("copy", src, dst);
        if (src.dtype() != dst.dtype()) {
            throw new IllegalArgumentException("copy: " + src + " is " + src.dtype() + " but " + dst + " is "
                    + dst.dtype() + "; copy moves elements without converting them");
        }
        checkSameSize("copy", src, dst);
        checkDisjoint("copy", dst, src);
    }

    // ---- element-wise ----------------------------------------------------------------------------------

    /** {@link Backend#add}: b's size divides a's; out is a's size and is a, b (equal sizes) or separate. */
    public static void checkAdd(Tensor a, Tensor b, Tensor out) {
        checkLive("add", a, b, out);
        checkSameDType("add", a, b, out);
        if (b.size() == 0 ? a.size() != 0 : a.size() % b.size() != 0) {
            throw new IllegalArgumentException("add: the size of b " + b + " (" + b.size()
                    + ") must divide the size of a " + a + " (" + a.size() + "), e.g. a bias of a's last dimension");
        }
        checkSameSize("add", a, out);
        checkSameOrDisjoint("add", out, a);
        if (b.size() == a.size()) {
            checkSameOrDisjoint("add", out, b);
        } else {
            checkDisjoint("add", out, b);
        }
    }

    /** {@link Backend#scale}. */
    public static void checkScale(Tensor x, Tensor out) {
        checkLive("scale", x, out);
        checkSameDType("scale", x, out);
        checkSameSize("scale", x, out);
        checkSameOrDisjoint("scale", out, x);
    }

    /** {@link Backend#sumRows}: out has one element per column of x. */
    public static void checkSumRows(Tensor x, Tensor out) {
        checkLive("sumRows", x, out);
        checkSameDType("sumRows", x, out);
        checkCols("sumRows", "out", out, x);
        checkDisjoint("sumRows", out, x);
    }

    /** {@link Backend#unary}. */
    public static void checkUnary(UnaryOp op, Tensor x, Tensor out) {
        if (op == null) throw new IllegalArgumentException("unary: op is null");
        checkLive("unary", x, out);
        checkSameDType("unary", x, out);
        checkSameSize("unary", x, out);
        checkSameOrDisjoint("unary", out, x);
    }

    /** {@link Backend#unaryBackward}: dx may be dOut, never x. */
    public static void checkUnaryBackward(UnaryOp op, Tensor x, Tensor dOut, Tensor dx) {
        if (op == null) throw new IllegalArgumentException("unaryBackward: op is null");
        checkLive("unaryBackward", x, dOut, dx);
        checkSameDType("unaryBackward", x, dOut, dx);
        checkSameSize("unaryBackward", x, dOut);
        checkSameSize("unaryBackward", x, dx);
        checkDisjoint("unaryBackward", dx, x);
        checkSameOrDisjoint("unaryBackward", dx, dOut);
    }

    /** {@link Backend#swiglu}: three tensors of one size, out separate. */
    public static void checkSwiglu(Tensor gate, Tensor up, Tensor out) {
        checkLive("swiglu", gate, up, out);
        checkSameDType("swiglu", gate, up, out);
        checkSameSize("swiglu", gate, up);
        checkSameSize("swiglu", gate, out);
        checkDisjoint("swiglu", out, gate);
        checkDisjoint("swiglu", out, up);
    }

    /** {@link Backend#swigluBackward}: each wanted gradient has gate's size and separate storage. */
    public static void checkSwigluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp) {
        checkLive("swigluBackward", gate, up, dOut);
        checkSameDType("swigluBackward", gate, up, dOut, dGate, dUp);
        checkSameSize("swigluBackward", gate, up);
        checkSameSize("swigluBackward", gate, dOut);
        for (Tensor grad : new Tensor[]{dGate, dUp}) {
            if (grad == null) continue;
            checkLive("swigluBackward", grad);
            checkSameSize("swigluBackward", gate, grad);
            checkDisjoint("swigluBackward", grad, gate);
            checkDisjoint("swigluBackward", grad, up);
            checkDisjoint("swigluBackward", grad, dOut);
        }
        if (dGate != null && dUp != null) checkDisjoint("swigluBackward", dGate, dUp);
    }

    // ---- normalisation ---------------------------------------------------------------------------------

    /** {@link Backend#layerNorm}: gamma/beta per column, mean/rstd per row, out x's shape and separate. */
    public static void checkLayerNorm(Tensor x, Tensor gamma, Tensor beta, double eps, Tensor out, Tensor mean,
                                      Tensor rstd) {
        String k = "layerNorm";
        checkLive(k, x, gamma, out);
        if (beta != null) checkLive(k, beta);
        if (mean != null) checkLive(k, mean);
        if (rstd != null) checkLive(k, rstd);
        checkSameDType(k, x, gamma, beta, out, mean, rstd);
        checkRowWise(k, x);
        checkEps(k, eps);
        checkCols(k, "gamma", gamma, x);
        if (beta != null) checkCols(k, "beta", beta, x);
        checkShape(k, "out", out, x.shape());
        checkDisjoint(k, out, x);
        if (mean != null) {
            checkRows(k, "mean", mean, x);
            checkDisjoint(k, mean, x);
        }
        if (rstd != null) {
            checkRows(k, "rstd", rstd, x);
            checkDisjoint(k, rstd, x);
        }
    }

    /** {@link Backend#layerNormBackward}: statistics per row, dOut and dx of x's shape, dx separate. */
    public static void checkLayerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dOut,
                                              Tensor dx) {
        String k = "layerNormBackward";
        checkLive(k, x, gamma, mean, rstd, dOut, dx);
        checkSameDType(k, x, gamma, mean, rstd, dOut, dx);
        checkRowWise(k, x);
        checkCols(k, "gamma", gamma, x);
        checkRows(k, "mean", mean, x);
        checkRows(k, "rstd", rstd, x);
        checkShape(k, "dOut", dOut, x.shape());
        checkShape(k, "dx", dx, x.shape());
        for (Tensor in : new Tensor[]{x, gamma, mean, rstd, dOut}) checkDisjoint(k, dx, in);
    }

    /** {@link Backend#rmsNorm}: weight per column, rstd per row, out x's shape and separate. */
    public static void checkRmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        String k = "rmsNorm";
        checkLive(k, x, weight, out);
        if (rstd != null) checkLive(k, rstd);
        checkSameDType(k, x, weight, out, rstd);
        checkRowWise(k, x);
        checkEps(k, eps);
        checkCols(k, "weight", weight, x);
        checkShape(k, "out", out, x.shape());
        checkDisjoint(k, out, x);
        if (rstd != null) {
            checkRows(k, "rstd", rstd, x);
            checkDisjoint(k, rstd, x);
        }
    }

    /** {@link Backend#rmsNormBackward}: rstd per row, dOut and dx of x's shape, dx separate. */
    public static void checkRmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor dOut, Tensor dx) {
        String k = "rmsNormBackward";
        checkLive(k, x, weight, rstd, dOut, dx);
        checkSameDType(k, x, weight, rstd, dOut, dx);
        checkRowWise(k, x);
        checkCols(k, "weight", weight, x);
        checkRows(k, "rstd", rstd, x);
        checkShape(k, "dOut", dOut, x.shape());
        checkShape(k, "dx", dx, x.shape());
        for (Tensor in : new Tensor[]{x, weight, rstd, dOut}) checkDisjoint(k, dx, in);
    }

    private static void checkRowWise(String kernel, Tensor x) {
        if (x.rank() == 0 || x.dim(-1) == 0) {
            throw new IllegalArgumentException(kernel + ": x " + x + " must have rank ≥ 1 and a non-empty last dimension");
        }
    }

    private static void checkEps(String kernel, double eps) {
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException(kernel + ": eps must be finite and ≥ 0, not " + eps);
        }
    }

    // ---- matrix products -------------------------------------------------------------------------------

    /**
     * {@link Backend#gemm}: non-negative strides, every batch matrix of A, B and C inside its view, C's batch
     * matrices not overlapping one another, and C separate from A and B.
     */
    public static void checkGemm(Gemm g, Tensor a, Tensor b, Tensor c) {
        if (g == null) throw new IllegalArgumentException("gemm: shape (Gemm) is null");
        checkLive("gemm", a, b, c);
        checkArithmetic("gemm", c);
        checkOperandDType("gemm", "A", a, c);
        checkOperandDType("gemm", "B", b, c);
        if (a.dtype() == DType.BF16 && b.dtype() == DType.BF16) {
            throw new IllegalArgumentException("gemm: A " + a + " and B " + b + " are both BF16; at most one operand"
                    + " of a product may be a BF16 weight, the other holds F32 activations");
        }
        String aShape = g.transA() ? g.k() + "×" + g.m() + " (transA)" : g.m() + "×" + g.k();
        String bShape = g.transB() ? g.n() + "×" + g.k() + " (transB)" : g.k() + "×" + g.n();
        checkBatchFits(g, "A", aShape, a, (long) g.m() * g.k(), g.strideA());
        checkBatchFits(g, "B", bShape, b, (long) g.k() * g.n(), g.strideB());
        checkBatchFits(g, "C", g.m() + "×" + g.n(), c, (long) g.m() * g.n(), g.strideC());
        long matrixC = (long) g.m() * g.n();
        if (g.batch() > 1 && matrixC > 0 && g.strideC() < matrixC) {
            throw new IllegalArgumentException("gemm: strideC " + g.strideC() + " is smaller than one " + g.m() + "×"
                    + g.n() + " C matrix, so the " + g.batch() + " products of " + g + " would overwrite one another");
        }
        checkDisjoint("gemm", c, a);
        checkDisjoint("gemm", c, b);
    }

    private static void checkBatchFits(Gemm g, String name, String matrixShape, Tensor t, long matrix, long stride) {
        if (stride < 0) {
            throw new IllegalArgumentException("gemm: stride" + name + " must be ≥ 0, not " + stride + " in " + g);
        }
        long needed = matrix == 0 ? 0 : (g.batch() - 1) * stride + matrix;
        if (t.size() < needed) {
            throw new IllegalArgumentException("gemm: " + name + " " + t + " holds " + t.size() + " elements, but "
                    + g.batch() + " matrices of " + matrixShape + " at stride " + stride + " need " + needed
                    + " (" + g + ")");
        }
    }

    // ---- attention pieces ------------------------------------------------------------------------------

    /** {@link Backend#softmax}: scores [batch, heads, queries, keys], keyMask [batch, keys], probs alike. */
    public static void checkSoftmax(Tensor scores, double scale, boolean causal, Tensor keyMask, Tensor probs) {
        String k = "softmax";
        checkLive(k, scores, probs);
        if (keyMask != null) checkLive(k, keyMask);
        checkSameDType(k, scores, keyMask, probs);
        checkRank(k, "scores", scores, 4, "[batch, heads, queries, keys]");
        checkFinite(k, "scale", scale);
        checkShape(k, "probs", probs, scores.shape());
        checkSameOrDisjoint(k, probs, scores);
        if (keyMask != null) {
            checkShape(k, "keyMask [batch, keys]", keyMask, scores.dim(0), scores.dim(3));
            checkDisjoint(k, probs, keyMask);
        }
    }

    /** {@link Backend#softmaxBackward}: probs, dProbs and dScores of one shape; dScores may be dProbs. */
    public static void checkSoftmaxBackward(Tensor probs, Tensor dProbs, double scale, Tensor dScores) {
        String k = "softmaxBackward";
        checkLive(k, probs, dProbs, dScores);
        checkSameDType(k, probs, dProbs, dScores);
        checkRowWise(k, probs);
        checkFinite(k, "scale", scale);
        checkShape(k, "dProbs", dProbs, probs.shape());
        checkShape(k, "dScores", dScores, probs.shape());
        checkDisjoint(k, dScores, probs);
        checkSameOrDisjoint(k, dScores, dProbs);
    }

    /**
     * {@link Backend#rope}: x [batch, heads, T, headSize] with headSize even, and one position per time step
     * (T positions shared by every sequence) or per sequence and time step (batch · T), and frequencies for that
     * head size.
     */
    public static void checkRope(Tensor x, int[] positions, RopeFrequencies frequencies, RopeLayout layout,
                                 Tensor out) {
        String k = "rope";
        checkLive(k, x, out);
        checkSameDType(k, x, out);
        checkRank(k, "x", x, 4, "[batch, heads, T, headSize]");
        if (x.dim(3) % 2 != 0) {
            throw new IllegalArgumentException(k + ": headSize (last dimension of " + x + ") must be even, not " + x.dim(3));
        }
        if (positions == null) throw new IllegalArgumentException(k + ": positions must not be null");
        if (positions.length != x.dim(2) && positions.length != (long) x.dim(0) * x.dim(2)) {
            throw new IllegalArgumentException(k + ": " + positions.length + " positions given for " + x + " with T = "
                    + x.dim(2) + "; pass one position per time step (T), or per sequence and time step (batch · T)");
        }
        if (frequencies == null) throw new IllegalArgumentException(k + ": frequencies are null");
        if (frequencies.headSize() != x.dim(3)) {
            throw new IllegalArgumentException(k + ": " + frequencies + " does not fit " + x + ", whose head size is "
                    + x.dim(3));
        }
        if (layout == null) throw new IllegalArgumentException(k + ": layout is null");
        checkShape(k, "out", out, x.shape());
        checkSameOrDisjoint(k, out, x);
    }

    /** The highest rank {@link Backend#permute} takes (GPT-2's q|k|v split into heads is a rank-5 permute). */
    public static final int MAX_PERMUTE_RANK = 5;

    /** {@link Backend#permute}: rank ≤ {@link #MAX_PERMUTE_RANK}, perm a permutation of 0..rank−1, out permuted. */
    public static void checkPermute(Tensor x, int[] perm, Tensor out) {
        String k = "permute";
        checkLive(k, x, out);
        checkSameDType(k, x, out);
        if (x.rank() > MAX_PERMUTE_RANK) {
            throw new IllegalArgumentException(k + ": x " + x + " has rank " + x.rank() + "; at most "
                    + MAX_PERMUTE_RANK + " is supported");
        }
        if (perm == null) throw new IllegalArgumentException(k + ": perm must not be null");
        boolean[] seen = new boolean[x.rank()];
        boolean valid = perm.length == x.rank();
        for (int i = 0; valid && i < perm.length; i++) {
            valid = perm[i] >= 0 && perm[i] < x.rank() && !seen[perm[i]];
            if (valid) seen[perm[i]] = true;
        }
        if (!valid) {
            throw new IllegalArgumentException(k + ": " + Arrays.toString(perm) + " is not a permutation of the "
                    + x.rank() + " axes of " + x);
        }
        checkShape(k, "out", out, permutedShape(x.shape(), perm));
        checkDisjoint(k, out, x);
    }

    /** The shape whose axis i is {@code shape[perm[i]]}. */
    public static int[] permutedShape(int[] shape, int[] perm) {
        int[] permuted = new int[perm.length];
        for (int i = 0; i < perm.length; i++) permuted[i] = shape[perm[i]];
        return permuted;
    }

    // ---- embeddings and the loss -----------------------------------------------------------------------

    /** {@link Backend#gather}: table [vocab, dim], every id in [0, vocab), out holding ids.length rows of dim. */
    public static void checkGather(Tensor table, int[] ids, Tensor out) {
        String k = "gather";
        checkLive(k, table, out);
        checkArithmetic(k, out);
        checkOperandDType(k, "table", table, out);
        checkRank(k, "table", table, 2, "[vocab, dim]");
        if (ids == null) throw new IllegalArgumentException(k + ": ids must not be null");
        int vocab = table.dim(0), dim = table.dim(1);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(k + ": id " + ids[i] + " at index " + i + " is outside [0, " + vocab
                        + ") of table " + table);
            }
        }
        if (out.size() != (long) ids.length * dim || (out.rank() > 0 && out.dim(-1) != dim)) {
            throw new IllegalArgumentException(k + ": out " + out + " must hold " + ids.length + " rows of " + dim
                    + ", e.g. shape [" + ids.length + ", " + dim + "]");
        }
        checkDisjoint(k, out, table);
    }

    /**
     * {@link Backend#crossEntropy}: logits [rows, vocab], one target per row in [0, vocab) or
     * {@link #IGNORE_INDEX}, dLogits (if any) of logits' shape and either logits itself or separate.
     */
    public static void checkCrossEntropy(Tensor logits, int[] targets, double dScale, Tensor dLogits) {
        String k = "crossEntropy";
        checkLive(k, logits);
        if (dLogits != null) checkLive(k, dLogits);
        checkSameDType(k, logits, dLogits);
        checkRowWise(k, logits);
        if (targets == null) throw new IllegalArgumentException(k + ": targets must not be null");
        int rows = logits.rows(), vocab = logits.dim(-1);
        if (targets.length != rows) {
            throw new IllegalArgumentException(k + ": " + targets.length + " targets given for " + rows + " rows of logits "
                    + logits + "; pass one target (or " + IGNORE_INDEX + ") per row");
        }
        for (int r = 0; r < targets.length; r++) {
            if (targets[r] != IGNORE_INDEX && (targets[r] < 0 || targets[r] >= vocab)) {
                throw new IllegalArgumentException(k + ": target " + targets[r] + " at row " + r + " is outside [0, "
                        + vocab + ") and is not " + IGNORE_INDEX + " (ignore)");
            }
        }
        checkFinite(k, "dScale", dScale);
        if (dLogits != null) {
            checkShape(k, "dLogits", dLogits, logits.shape());
            checkSameOrDisjoint(k, dLogits, logits);
        }
    }

    /** {@link Backend#argmax}: rows of at least one element. */
    public static void checkArgmax(Tensor x) {
        checkLive("argmax", x);
        checkArithmetic("argmax", x);
        checkRowWise("argmax", x);
    }

    private static void checkFinite(String kernel, String name, double value) {
        if (!Double.isFinite(value)) throw new IllegalArgumentException(kernel + ": " + name + " must be finite, not " + value);
    }
}
