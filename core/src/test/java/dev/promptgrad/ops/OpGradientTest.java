package dev.promptgrad.ops;

import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every op's backward against central finite differences in float64 on the reference backend, for each
 * input that can need a gradient. Shapes are small and awkward (odd row counts, T ≠ keys) on purpose.
 */
class OpGradientTest {
    private ReferenceBackend backend;
    private Scope scope;
    private GradientCheck check;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        scope = new Scope(backend, "op gradient test");
        check = new GradientCheck(backend, scope, 42);
    }

    @AfterEach
    void close() {
        scope.close();
        assertEquals(0, backend.liveBytes(), "every buffer of the test is freed");
        backend.close();
    }

    private static String[] names(String... names) {
        return names;
    }

    @ParameterizedTest
    @EnumSource(Linear.Layout.class)
    void linear(Linear.Layout layout) {
        Tensor x = check.random(1, 2, 3, 5);
        Tensor w = layout == Linear.Layout.IN_OUT ? check.random(1, 5, 4) : check.random(1, 4, 5);
        check.check("linear " + layout, (tape, in) -> Linear.apply(tape, in[0], in[1], layout),
                names("x", "W"), x, w);
    }

    @Test
    void biasAdd() {
        check.check("bias add", (tape, in) -> BiasAdd.apply(tape, in[0], in[1]),
                names("x", "b"), check.random(1, 2, 3, 5), check.random(1, 5));
    }

    @Test
    void add() {
        check.check("add", (tape, in) -> Add.apply(tape, in[0], in[1]),
                names("a", "b"), check.random(1, 3, 4), check.random(1, 3, 4));
    }

    @Test
    void addOfOneInputTwice() {
        check.check("add x + x", (tape, in) -> Add.apply(tape, in[0], in[0]),
                names("x"), check.random(1, 3, 4));
    }

    @Test
    void layerNorm() {
        Tensor gamma = check.random(1, 6);
        Tensor beta = check.random(1, 6);
        check.check("layer norm", (tape, in) -> LayerNorm.apply(tape, in[0], gamma, beta, 1e-5),
                names("x"), check.random(2, 3, 6));
        check.check("layer norm without beta",
                (tape, in) -> LayerNorm.apply(tape, in[0], gamma, null, 1e-5), names("x"), check.random(2, 3, 6));
    }

    @Test
    void rmsNorm() {
        Tensor weight = check.random(1, 6);
        check.check("rms norm", (tape, in) -> RmsNorm.apply(tape, in[0], weight, 1e-6),
                names("x"), check.random(2, 3, 6));
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void activation(UnaryOp op) {
        check.check("activation " + op, (tape, in) -> Activation.apply(tape, op, in[0]),
                names("x"), check.random(3, 3, 7));
    }

    @Test
    void swiglu() {
        check.check("swiglu", (tape, in) -> SwiGlu.apply(tape, in[0], in[1]),
                names("gate", "up"), check.random(3, 3, 7), check.random(1, 3, 7));
    }

    @ParameterizedTest
    @EnumSource(RopeLayout.class)
    void rope(RopeLayout layout) {
        int[] positions = {0, 3, 4, 9};
        check.check("rope " + layout,
                (tape, in) -> Rope.apply(tape, in[0], positions, RopeFrequencies.standard(10000, 6), layout),
                names("x"), check.random(1, 2, 3, 4, 6));
    }

    @ParameterizedTest
    @EnumSource(RopeLayout.class)
    void ropeWithPositionsPerSequence(RopeLayout layout) {
        int[] positions = {0, 3, 4, 2, 2, 7};   // (batch 2, T 3): each sequence its own positions
        check.check("rope per sequence " + layout,
                (tape, in) -> Rope.apply(tape, in[0], positions, RopeFrequencies.llama3(10000, 6, 8, 1, 4, 16), layout),
                names("x"), check.random(1, 2, 2, 3, 6));
    }

    @ParameterizedTest
    @CsvSource({"false, false, 1.0", "true, false, 0.5", "true, true, 0.7", "false, true, 1.3"})
    void softmax(boolean causal, boolean padding, double scale) {
        Tensor mask = padding ? check.of(new double[] {1, 1, 0, 1, 1, 0, 1, 1, 1, 1}, 2, 5) : null;
        String what = "softmax causal=" + causal + " padding=" + padding;
        check.check(what, (tape, in) -> Softmax.apply(tape, in[0], scale, causal, mask),
                names("scores"), check.random(2, 2, 3, 3, 5));
    }

    @ParameterizedTest
    @CsvSource({"0, 2, 1, 3", "3, 1, 0, 2", "1, 0, 3, 2"})
    void permute(int a, int b, int c, int d) {
        String what = "permute " + a + b + c + d;
        check.check(what, (tape, in) -> Permute.apply(tape, in[0], a, b, c, d),
                names("x"), check.random(1, 2, 3, 4, 5));
    }

    @Test
    void reshapeThenNonlinearity() {
        check.check("reshape", (tape, in) ->
                        Activation.apply(tape, UnaryOp.SILU, Reshape.apply(tape, in[0], 3, -1)),
                names("x"), check.random(2, 2, 3, 4));
    }

    @Test
    void selectAndSplit() {
        check.check("select", (tape, in) -> Select.apply(tape, in[0], 1),
                names("x"), check.random(1, 3, 2, 4));
        check.check("split", (tape, in) -> {
            Variable[] parts = Split.apply(tape, in[0], 3);
            return Add.apply(tape, SwiGlu.apply(tape, parts[0], parts[1]), parts[2]);
        }, names("x"), check.random(2, 2, 3, 12));
    }

    @Test
    void scale() {
        check.check("scale", (tape, in) -> Activation.apply(tape, UnaryOp.SILU, Scale.apply(tape, in[0], -2.5)),
                names("x"), check.random(1, 3, 5));
    }

    @ParameterizedTest
    @CsvSource({"false, false", "false, true", "true, false", "true, true"})
    void matmul(boolean transA, boolean transB) {
        int batch = 2, m = 3, n = 4, k = 5;
        Tensor a = transA ? check.random(1, batch, k, m) : check.random(1, batch, m, k);
        Tensor b = transB ? check.random(1, batch, n, k) : check.random(1, batch, k, n);
        String what = "matmul transA=" + transA + " transB=" + transB;
        check.check(what, (tape, in) -> MatMul.apply(tape, in[0], in[1], transA, transB), names("A", "B"), a, b);
    }

    @ParameterizedTest
    @CsvSource({
            "4, 2, true, false, ",
            "4, 2, true, true, ROTATE_HALF",
            "4, 2, false, true, INTERLEAVED",
            "2, 2, true, true, INTERLEAVED",
            "2, 2, false, false, ROTATE_HALF",
            "4, 1, true, true, ROTATE_HALF"})
    void attention(int heads, int kvHeads, boolean causal, boolean padding, RopeLayout layout) {
        int batch = 2, length = 3, headSize = 4;
        Tensor mask = padding ? check.of(new double[] {1, 1, 1, 0, 1, 1}, batch, length) : null;
        Rope.Settings rope = layout == null ? null : new Rope.Settings(layout, RopeFrequencies.standard(10000, headSize),
                new int[] {2, 3, 4});
        String what = "attention H=" + heads + " KvH=" + kvHeads + " causal=" + causal + " padding=" + padding
                + " rope=" + layout;
        check.check(what,
                (tape, in) -> Attention.apply(tape, in[0], in[1], in[2], heads, kvHeads, causal, mask, rope),
                names("q", "k", "v"),
                check.random(1, batch, length, heads * headSize),
                check.random(1, batch, length, kvHeads * headSize),
                check.random(1, batch, length, kvHeads * headSize));
    }

    @Test
    void attentionWithKeyPositionsPerSequence() {
        int batch = 2, length = 2, keys = 4, headSize = 4;
        Tensor mask = check.of(new double[] {1, 1, 1, 1, 0, 0, 1, 1}, batch, keys);   // row 1: two left pads
        Rope.Settings rope = new Rope.Settings(RopeLayout.ROTATE_HALF, RopeFrequencies.standard(500, headSize),
                new int[] {0, 1, 2, 3, 0, 0, 0, 1});
        check.check("attention positions per sequence",
                (tape, in) -> Attention.apply(tape, in[0], in[1], in[2], 4, 2, true, mask, rope),
                names("q", "k", "v"),
                check.random(1, batch, length, 4 * headSize),
                check.random(1, batch, keys, 2 * headSize),
                check.random(1, batch, keys, 2 * headSize));
    }

    @Test
    void attentionWithMoreKeysThanQueries() {
        int batch = 1, length = 2, keys = 4, headSize = 4;
        Rope.Settings rope = Rope.Settings.sequential(RopeLayout.ROTATE_HALF,
                RopeFrequencies.standard(500, headSize), keys);
        check.check("attention keys > T",
                (tape, in) -> Attention.apply(tape, in[0], in[1], in[2], 4, 2, true, null, rope),
                names("q", "k", "v"),
                check.random(1, batch, length, 4 * headSize),
                check.random(1, batch, keys, 2 * headSize),
                check.random(1, batch, keys, 2 * headSize));
    }

    @Test
    void concatPrompt() {
        check.check("concat prompt", (tape, in) -> ConcatPrompt.apply(tape, in[0], in[1]),
                names("prompt", "tokens"), check.random(1, 2, 5), check.random(1, 3, 4, 5));
    }

    @Test
    void crossEntropyWithIgnoredTargets() {
        int[] targets = {3, CrossEntropy.IGNORE, 0, 6, CrossEntropy.IGNORE, 2};
        check.check("cross entropy", (tape, in) -> CrossEntropy.apply(tape, in[0], targets),
                names("logits"), check.random(3, 2, 3, 7));
    }

    @Test
    void crossEntropyOverwritingItsLogits() {
        int[] targets = {3, CrossEntropy.IGNORE, 0, 6, CrossEntropy.IGNORE, 2};
        check.check("cross entropy over its logits", (tape, in) -> CrossEntropy.applyOverwritingLogits(tape,
                Activation.apply(tape, UnaryOp.SILU, in[0]), targets), names("x"), check.random(3, 2, 3, 7));
    }

    @Test
    void gatherRows() {
        int[] rows = {4, 0, 1, 2, 6};   // one run of three, two single rows; rows 3 and 5 are not picked
        check.check("gather rows", (tape, in) -> GatherRows.apply(tape, in[0], rows),
                names("x"), check.random(1, 7, 5));
        check.check("gather rows of [2, 4, 3]", (tape, in) -> GatherRows.apply(tape, in[0], new int[]{7, 2, 3}),
                names("x"), check.random(1, 2, 4, 3));
    }
}
