package dev.promptgrad.backend;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.reflect.Proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every rejection of {@link KernelContract}, reached through the {@link ReferenceBackend}'s kernels,
 * with the message checked for the kernel, the tensor and the expected shape. Valid edge cases
 * (in-place use, target −100, broadcast adds) are exercised in {@link ReferenceBackendTest}.
 */
class KernelContractTest {
    private final ReferenceBackend backend = new ReferenceBackend();
    private final Scope scope = new Scope(backend, "contract");

    @AfterEach
    void closeScope() {
        scope.close();
        assertEquals(0, backend.liveBytes());
    }

    private Tensor f32(int... shape) {
        Tensor t = scope.allocate(DType.F32, shape);
        backend.fill(t, 0);
        return t;
    }

    /** The call throws IllegalArgumentException whose message contains every fragment. */
    private static void rejects(Executable call, String... fragments) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, call);
        for (String fragment : fragments) {
            assertTrue(error.getMessage().contains(fragment),
                    () -> "message \"" + error.getMessage() + "\" lacks \"" + fragment + "\"");
        }
    }

    // ---- building blocks -------------------------------------------------------------------------------

    @Test
    void nullTensorIsNamedByPosition() {
        rejects(() -> backend.scale(null, 1, f32(2)), "scale: tensor argument 0 is null");
        rejects(() -> backend.add(f32(2), f32(2), null), "add: tensor argument 2 is null");
    }

    @Test
    void releasedStorageIsAStateError() {
        Tensor stale;
        try (Scope local = new Scope(backend, "closed early")) {
            stale = local.allocate(2);
        }
        Tensor out = f32(2);
        IllegalStateException error = assertThrows(IllegalStateException.class, () -> backend.scale(stale, 1, out));
        assertTrue(error.getMessage().contains("closed early"), error.getMessage());
    }

    @Test
    void mixedDTypesAreRejected() {
        Tensor narrow = f32(2);
        Tensor wide = scope.allocate(DType.F64, 2);
        rejects(() -> backend.add(narrow, wide, narrow), "add: all tensors must have one dtype", "Tensor[2] F32",
                "Tensor[2] F64");
        rejects(() -> backend.copy(narrow, wide), "copy: Tensor[2] F32", "is F32 but", "without converting");
        rejects(() -> backend.gemm(Gemm.of(1, 2, 1, false, false), wide, narrow, narrow), "gemm: A Tensor[2] F64",
                "must have the output's dtype");
        rejects(() -> backend.gather(wide.view(1, 2), new int[]{0}, narrow), "gather: table Tensor[1, 2] F64");
    }

    @Test
    void bf16IsAWeightOperandOnly() {
        Tensor weight = scope.allocate(DType.BF16, 2, 2), wide = scope.allocate(DType.F64, 2, 2);
        rejects(() -> backend.scale(weight, 2, f32(2, 2)), "scale: Tensor[2, 2] BF16", "storage type for frozen weights");
        rejects(() -> backend.argmax(weight), "argmax:", "storage type");
        rejects(() -> backend.gemm(Gemm.of(2, 2, 2, false, false), weight, wide, wide), "gemm: A Tensor[2, 2] BF16",
                "BF16 weight read into an F32 output");
        rejects(() -> backend.gather(weight, new int[]{1}, wide.view(4).slice(0, 2).view(1, 2)), "gather: table",
                "BF16 weight read into an F32 output");
    }

    @Test
    void sizesMustAgree() {
        rejects(() -> backend.scale(f32(2, 3), 2, f32(5)), "scale: Tensor[2, 3] F32 of scope 'contract' and Tensor[5]",
                "6 != 5");
        rejects(() -> backend.copy(f32(4), f32(3)), "copy:", "4 != 3");
        rejects(() -> backend.unary(UnaryOp.SILU, f32(4), f32(3)), "unary:", "4 != 3");
        rejects(() -> backend.unaryBackward(UnaryOp.SILU, f32(4), f32(3), f32(4)), "unaryBackward:", "4 != 3");
        rejects(() -> backend.swiglu(f32(4), f32(4), f32(5)), "swiglu:", "4 != 5");
        rejects(() -> backend.swigluBackward(f32(4), f32(4), f32(4), f32(3), null), "swigluBackward:", "4 != 3");
    }

    @Test
    void partialOverlapIsRejectedButExactAliasIsNot() {
        Tensor whole = f32(4, 2);
        Tensor top = whole.slice(0, 2), shifted = whole.slice(1, 3);
        rejects(() -> backend.add(top, f32(2, 2), shifted), "add: output Tensor[2, 2]", "partly overlaps input",
                "pass the very same tensor");
        rejects(() -> backend.copy(top, shifted), "copy: output", "overlaps input", "separate output tensor");
        rejects(() -> backend.copy(top, top), "copy: output", "overlaps input");
        rejects(() -> backend.unaryBackward(UnaryOp.GELU_TANH, top, f32(2, 2), top), "unaryBackward: output",
                "overlaps input");
        Tensor both = f32(4);
        rejects(() -> backend.swigluBackward(f32(4), f32(4), f32(4), both, both), "swigluBackward: output",
                "overlaps input");
    }

    @Test
    void nullUnaryOpIsRejected() {
        rejects(() -> backend.unary(null, f32(1), f32(1)), "unary: op is null");
        rejects(() -> backend.unaryBackward(null, f32(1), f32(1), f32(1)), "unaryBackward: op is null");
    }

    // ---- memory --------------------------------------------------------------------------------------

    @Test
    void allocateRejectsNegativeHugeNullAndUnsupported() {
        rejects(() -> backend.allocate(DType.F32, -1, "negative"), "negative size -1 for negative");
        rejects(() -> backend.allocate(DType.F32, 3_000_000_000L, "huge"), "at most", "huge asked for 3000000000");
        rejects(() -> backend.allocate(null, 1, "untyped"), "dtype is null for untyped");
        Backend f32Only = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "name" -> "f32-only";
                    case "supports" -> args[0] == DType.F32;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
        rejects(() -> KernelContract.checkAllocate(f32Only, DType.F64, 4, "grad check"),
                "backend 'f32-only' does not support F64", "grad check", "use F32");
    }

    @Test
    void uploadLengthMustMatch() {
        rejects(() -> backend.upload(new float[3], f32(2, 2)), "upload: 3 host values do not match Tensor[2, 2]",
                "4 elements");
        rejects(() -> backend.upload(new double[5], f32(4)), "upload: 5 host values");
    }

    @Test
    void downloadRefusesMoreThanOneArray() {
        Buffer huge = new Buffer(DType.F32, 3_000_000_000L, "huge view") {
        };
        Tensor t = new Tensor(huge, 0, 3, 1_000_000_000);
        rejects(() -> KernelContract.checkDownload(t), "download: Tensor[3, 1000000000]", "download it in slices");
    }

    // ---- element-wise ----------------------------------------------------------------------------------

    @Test
    void addNeedsBToDivideA() {
        rejects(() -> backend.add(f32(2, 3), f32(4), f32(2, 3)), "add: the size of b Tensor[4]", "(4)",
                "must divide the size of a Tensor[2, 3]", "(6)");
        rejects(() -> backend.add(f32(2), f32(0), f32(2)), "add: the size of b Tensor[0]");
        rejects(() -> backend.add(f32(2, 3), f32(3), f32(3, 3)), "add:", "6 != 9");
    }

    @Test
    void sumRowsNeedsOneOutputPerColumn() {
        rejects(() -> backend.sumRows(f32(4, 3), f32(4), false),
                "sumRows: out Tensor[4] F32", "one element per column of Tensor[4, 3]", "i.e. 3 elements, not 4");
    }

    // ---- normalisation ---------------------------------------------------------------------------------

    @Test
    void layerNormShapes() {
        Tensor x = f32(2, 4);
        rejects(() -> backend.layerNorm(x, f32(3), null, 1e-5, f32(2, 4), null, null),
                "layerNorm: gamma Tensor[3]", "per column", "4 elements, not 3");
        rejects(() -> backend.layerNorm(x, f32(4), f32(5), 1e-5, f32(2, 4), null, null), "layerNorm: beta Tensor[5]");
        rejects(() -> backend.layerNorm(x, f32(4), null, 1e-5, f32(4, 2), null, null),
                "layerNorm: out Tensor[4, 2]", "must have shape [2, 4]");
        rejects(() -> backend.layerNorm(x, f32(4), null, 1e-5, f32(2, 4), f32(3), null),
                "layerNorm: mean Tensor[3]", "one element per row of Tensor[2, 4]", "2 elements, not 3");
        rejects(() -> backend.layerNorm(x, f32(4), null, 1e-5, f32(2, 4), null, f32(1)), "layerNorm: rstd Tensor[1]");
        rejects(() -> backend.layerNorm(x, f32(4), null, -1, f32(2, 4), null, null), "layerNorm: eps", "not -1.0");
        rejects(() -> backend.layerNorm(x, f32(4), null, Double.NaN, f32(2, 4), null, null), "layerNorm: eps");
        rejects(() -> backend.layerNorm(f32(2, 0), f32(0), null, 1e-5, f32(2, 0), null, null),
                "layerNorm: x Tensor[2, 0]", "non-empty last dimension");
        rejects(() -> backend.layerNorm(x, f32(4), null, 1e-5, x, null, null), "layerNorm: output", "overlaps input");
    }

    @Test
    void layerNormBackwardShapes() {
        Tensor x = f32(2, 4);
        rejects(() -> backend.layerNormBackward(x, f32(4), f32(2), f32(2), f32(2, 3), f32(2, 4)),
                "layerNormBackward: dOut Tensor[2, 3]", "shape [2, 4]");
        rejects(() -> backend.layerNormBackward(x, f32(4), f32(2), f32(4), f32(2, 4), f32(2, 4)),
                "layerNormBackward: rstd Tensor[4]", "2 elements, not 4");
        Tensor dOut = f32(2, 4);
        rejects(() -> backend.layerNormBackward(x, f32(4), f32(2), f32(2), dOut, dOut), "layerNormBackward: output",
                "overlaps input");
    }

    @Test
    void rmsNormShapes() {
        Tensor x = f32(3, 2);
        rejects(() -> backend.rmsNorm(x, f32(3), 1e-6, f32(3, 2), null), "rmsNorm: weight Tensor[3]", "2 elements, not 3");
        rejects(() -> backend.rmsNorm(x, f32(2), 1e-6, f32(6), null), "rmsNorm: out Tensor[6]", "shape [3, 2]");
        rejects(() -> backend.rmsNorm(x, f32(2), 1e-6, f32(3, 2), f32(2)), "rmsNorm: rstd Tensor[2]", "3 elements, not 2");
        rejects(() -> backend.rmsNorm(x, f32(2), Double.POSITIVE_INFINITY, f32(3, 2), null), "rmsNorm: eps");
        rejects(() -> backend.rmsNormBackward(x, f32(2), f32(3), f32(3, 2), f32(2, 3)),
                "rmsNormBackward: dx Tensor[2, 3]", "shape [3, 2]");
        rejects(() -> backend.rmsNormBackward(x, f32(2), f32(2), f32(3, 2), f32(3, 2)), "rmsNormBackward: rstd");
    }

    // ---- gemm ----------------------------------------------------------------------------------------

    @Test
    void gemmViewsMustHoldEveryBatchMatrix() {
        rejects(() -> backend.gemm(Gemm.of(2, 2, 3, false, false), f32(5), f32(3, 2), f32(2, 2)),
                "gemm: A Tensor[5]", "holds 5 elements", "1 matrices of 2×3", "need 6");
        rejects(() -> backend.gemm(Gemm.of(2, 2, 3, false, true), f32(2, 3), f32(5), f32(2, 2)),
                "gemm: B Tensor[5]", "2×3 (transB)", "need 6");
        rejects(() -> backend.gemm(Gemm.of(2, 2, 3, true, false), f32(5), f32(3, 2), f32(2, 2)), "3×2 (transA)");
        rejects(() -> backend.gemm(Gemm.batched(3, 2, 2, 2, false, false), f32(3, 2, 2), f32(3, 2, 2), f32(2, 2, 2)),
                "gemm: C Tensor[2, 2, 2]", "3 matrices of 2×2 at stride 4 need 12");
        // strideA 4 over 2 batches of 2×3 reaches element 4 + 6 = 10
        rejects(() -> backend.gemm(new Gemm(2, 2, 2, 3, false, false, 4, 0, 4, 1f, 0f), f32(9), f32(3, 2), f32(2, 2, 2)),
                "gemm: A Tensor[9]", "at stride 4 need 10");
    }

    @Test
    void gemmStridesMustBeSane() {
        rejects(() -> backend.gemm(new Gemm(2, 1, 1, 1, false, false, -1, 0, 1, 1f, 0f), f32(4), f32(1), f32(2)),
                "gemm: strideA must be ≥ 0, not -1");
        rejects(() -> backend.gemm(new Gemm(2, 2, 2, 2, false, false, 4, 4, 3, 1f, 0f), f32(8), f32(8), f32(8)),
                "gemm: strideC 3 is smaller than one 2×2 C matrix", "overwrite one another");
        rejects(() -> backend.gemm(null, f32(1), f32(1), f32(1)), "gemm: shape (Gemm) is null");
    }

    @Test
    void gemmOutputMustBeSeparate() {
        Tensor square = f32(2, 2);
        rejects(() -> backend.gemm(Gemm.of(2, 2, 2, false, false), square, f32(2, 2), square), "gemm: output Tensor[2, 2]",
                "overlaps input");
        rejects(() -> backend.gemm(Gemm.of(2, 2, 2, false, false), f32(2, 2), square, square), "gemm: output");
    }

    // ---- attention pieces ------------------------------------------------------------------------------

    @Test
    void softmaxShapes() {
        rejects(() -> backend.softmax(f32(2, 3, 3), 1, true, null, f32(2, 3, 3)),
                "softmax: scores Tensor[2, 3, 3]", "rank 4 [batch, heads, queries, keys], not rank 3");
        Tensor scores = f32(2, 1, 3, 3);
        rejects(() -> backend.softmax(scores, 1, false, f32(1, 3), f32(2, 1, 3, 3)),
                "softmax: keyMask [batch, keys] Tensor[1, 3]", "shape [2, 3]");
        rejects(() -> backend.softmax(scores, 1, false, null, f32(2, 3, 3, 1)),
                "softmax: probs Tensor[2, 3, 3, 1]", "shape [2, 1, 3, 3]");
        rejects(() -> backend.softmax(scores, Double.NaN, false, null, scores), "softmax: scale must be finite");
    }

    @Test
    void softmaxBackwardShapes() {
        Tensor probs = f32(1, 1, 2, 3);
        rejects(() -> backend.softmaxBackward(probs, f32(1, 1, 3, 2), 1, f32(1, 1, 2, 3)),
                "softmaxBackward: dProbs Tensor[1, 1, 3, 2]", "shape [1, 1, 2, 3]");
        rejects(() -> backend.softmaxBackward(probs, f32(1, 1, 2, 3), 1, probs), "softmaxBackward: output",
                "overlaps input");
    }

    @Test
    void ropeArguments() {
        Tensor x = f32(1, 2, 3, 4);
        Tensor out = f32(1, 2, 3, 4);
        int[] three = {0, 1, 2};
        RopeFrequencies plain = RopeFrequencies.standard(1e4, 4);
        rejects(() -> backend.rope(f32(2, 3, 4), three, plain, RopeLayout.ROTATE_HALF, false, f32(2, 3, 4)),
                "rope: x Tensor[2, 3, 4]", "rank 4 [batch, heads, T, headSize]");
        rejects(() -> backend.rope(f32(1, 2, 3, 5), three, plain, RopeLayout.ROTATE_HALF, false, f32(1, 2, 3, 5)),
                "rope: headSize", "Tensor[1, 2, 3, 5]", "must be even, not 5");
        rejects(() -> backend.rope(x, new int[]{0, 1}, plain, RopeLayout.INTERLEAVED, false, out),
                "rope: 2 positions given for Tensor[1, 2, 3, 4]", "T = 3");
        rejects(() -> backend.rope(f32(2, 2, 3, 4), new int[]{0, 1, 2, 3}, plain, RopeLayout.INTERLEAVED, false,
                f32(2, 2, 3, 4)), "rope: 4 positions given for Tensor[2, 2, 3, 4]", "(T), or per sequence", "(batch · T)");
        rejects(() -> backend.rope(x, null, plain, RopeLayout.INTERLEAVED, false, out), "rope: positions must not be null");
        rejects(() -> backend.rope(x, three, null, RopeLayout.INTERLEAVED, false, out), "rope: frequencies are null");
        rejects(() -> backend.rope(x, three, RopeFrequencies.standard(1e4, 8), RopeLayout.INTERLEAVED, false, out),
                "rope: RoPE θ 10000 over head size 8 does not fit", "whose head size is 4");
        rejects(() -> backend.rope(x, three, plain, null, false, out), "rope: layout is null");
        rejects(() -> backend.rope(x, three, plain, RopeLayout.INTERLEAVED, false, f32(1, 3, 2, 4)),
                "rope: out Tensor[1, 3, 2, 4]", "shape [1, 2, 3, 4]");
    }

    @Test
    void permuteArguments() {
        Tensor x = f32(1, 2, 3, 4);
        rejects(() -> backend.permute(f32(1, 1, 1, 1, 1, 2), new int[]{0, 1, 2, 3, 4, 5}, f32(1, 1, 1, 1, 1, 2)),
                "permute: x Tensor[1, 1, 1, 1, 1, 2]", "rank 6; at most 5");
        rejects(() -> backend.permute(x, new int[]{0, 2, 2, 3}, f32(1, 3, 3, 4)),
                "permute: [0, 2, 2, 3] is not a permutation of the 4 axes of Tensor[1, 2, 3, 4]");
        rejects(() -> backend.permute(x, new int[]{0, 1, 2, 4}, f32(1, 2, 3, 4)), "[0, 1, 2, 4] is not a permutation");
        rejects(() -> backend.permute(x, new int[]{1, 0}, f32(2, 1, 3, 4)), "[1, 0] is not a permutation");
        rejects(() -> backend.permute(x, null, f32(1, 2, 3, 4)), "permute: perm must not be null");
        rejects(() -> backend.permute(x, new int[]{0, 2, 1, 3}, f32(1, 2, 3, 4)),
                "permute: out Tensor[1, 2, 3, 4]", "shape [1, 3, 2, 4]");
        rejects(() -> backend.permute(x, new int[]{0, 1, 2, 3}, x), "permute: output", "overlaps input");
    }

    // ---- embeddings and the loss ---------------------------------------------------------------------

    @Test
    void gatherArguments() {
        Tensor table = f32(5, 2);
        rejects(() -> backend.gather(table, new int[]{0, 7, 1}, f32(3, 2)),
                "gather: id 7 at index 1 is outside [0, 5) of table Tensor[5, 2]");
        rejects(() -> backend.gather(table, new int[]{-1}, f32(1, 2)), "gather: id -1 at index 0");
        rejects(() -> backend.gather(f32(10), new int[]{0}, f32(1)), "gather: table Tensor[10]", "rank 2 [vocab, dim]");
        rejects(() -> backend.gather(table, null, f32(1, 2)), "gather: ids must not be null");
        rejects(() -> backend.gather(table, new int[]{0, 1}, f32(2, 3)),
                "gather: out Tensor[2, 3]", "must hold 2 rows of 2", "shape [2, 2]");
        rejects(() -> backend.gather(table, new int[]{0, 1}, f32(1, 4)), "gather: out Tensor[1, 4]");
    }

    @Test
    void crossEntropyArguments() {
        Tensor logits = f32(3, 5);
        rejects(() -> backend.crossEntropy(logits, new int[]{0, 1}, 1, null),
                "crossEntropy: 2 targets given for 3 rows of logits Tensor[3, 5]");
        rejects(() -> backend.crossEntropy(logits, new int[]{0, 5, -100}, 1, null),
                "crossEntropy: target 5 at row 1 is outside [0, 5)", "-100");
        rejects(() -> backend.crossEntropy(logits, new int[]{0, 1, -1}, 1, null), "target -1 at row 2");
        rejects(() -> backend.crossEntropy(logits, null, 1, null), "crossEntropy: targets must not be null");
        rejects(() -> backend.crossEntropy(logits, new int[]{0, 1, 2}, Double.POSITIVE_INFINITY, null),
                "crossEntropy: dScale must be finite");
        rejects(() -> backend.crossEntropy(logits, new int[]{0, 1, 2}, 1, f32(5, 3)),
                "crossEntropy: dLogits Tensor[5, 3]", "shape [3, 5]");
    }

    @Test
    void argmaxNeedsNonEmptyRows() {
        rejects(() -> backend.argmax(f32(3, 0)), "argmax: x Tensor[3, 0]", "non-empty last dimension");
        rejects(() -> backend.argmax(scope.allocate(DType.F32)), "argmax: x Tensor[]", "rank ≥ 1");
    }
}
