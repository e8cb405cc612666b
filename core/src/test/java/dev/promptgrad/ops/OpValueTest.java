package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Forward values of the composed and layout-sensitive ops against plain loops written here from the
 * definitions (gradient checks cannot catch a forward that is wrong but self-consistent, such as a sum
 * for a mean or the wrong kv head for a query head).
 */
class OpValueTest {
    private ReferenceBackend backend;
    private Scope scope;
    private Workspace workspace;
    private Tape tape;
    private GradientCheck random;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        scope = new Scope(backend, "op value test");
        workspace = new Workspace(backend, DType.F64, "op value test");
        tape = new Tape(backend, workspace);
        random = new GradientCheck(backend, scope, 13);
    }

    @AfterEach
    void close() {
        workspace.close();
        scope.close();
        assertEquals(0, backend.liveBytes());
        backend.close();
    }

    private double[] host(Tensor t) {
        return backend.downloadDouble(t);
    }

    private Variable constant(Tensor t) {
        return tape.constant(t, "input");
    }

    /** Rotates one head vector of {@code x} at {@code offset} (length d) by position p, as RoPE defines it. */
    private static void rotate(double[] x, int offset, int d, int p, double theta, RopeLayout layout) {
        for (int j = 0; j < d / 2; j++) {
            double angle = p * Math.pow(theta, -2.0 * j / d);
            int a = offset + (layout == RopeLayout.ROTATE_HALF ? j : 2 * j);
            int b = offset + (layout == RopeLayout.ROTATE_HALF ? j + d / 2 : 2 * j + 1);
            double xa = x[a], xb = x[b];
            x[a] = xa * Math.cos(angle) - xb * Math.sin(angle);
            x[b] = xb * Math.cos(angle) + xa * Math.sin(angle);
        }
    }

    @ParameterizedTest
    @CsvSource({"4, 2, true, true, ROTATE_HALF, false", "4, 1, false, true, INTERLEAVED, false",
            "2, 2, true, false, , false", "6, 3, true, true, ROTATE_HALF, false",
            "4, 2, true, true, ROTATE_HALF, true", "4, 1, false, true, INTERLEAVED, true"})
    void attentionMatchesTheDefinition(int heads, int kvHeads, boolean causal, boolean padding, RopeLayout layout,
                                       boolean perSequence) {
        int batch = 2, length = 3, keys = 4, d = 4, group = heads / kvHeads;
        double theta = 100;
        // per sequence: row 1 is left-padded by one column, so its keys sit at 0, 0, 1, 2
        int[] positions = perSequence ? new int[] {1, 2, 3, 4, 0, 0, 1, 2} : new int[] {1, 2, 3, 4};
        int rowStride = perSequence ? keys : 0;   // where sequence b's positions start
        double[] mask = {1, 1, 1, 1, 0, 1, 1, 1};
        Tensor q = random.random(1, batch, length, heads * d);
        Tensor k = random.random(1, batch, keys, kvHeads * d);
        Tensor v = random.random(1, batch, keys, kvHeads * d);
        Rope.Settings rope = layout == null ? null : new Rope.Settings(layout, RopeFrequencies.standard(theta, d), positions);
        Tensor maskTensor = padding ? random.of(mask, batch, keys) : null;
        double[] actual = host(Attention.apply(tape, constant(q), constant(k), constant(v), heads, kvHeads, causal,
                maskTensor, rope).value());

        double[] qs = host(q), ks = host(k), vs = host(v);
        if (rope != null) {
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < length; t++) {
                    int position = positions[b * rowStride + keys - length + t];
                    for (int h = 0; h < heads; h++) {
                        rotate(qs, ((b * length + t) * heads + h) * d, d, position, theta, layout);
                    }
                }
                for (int j = 0; j < keys; j++) {
                    for (int h = 0; h < kvHeads; h++) {
                        rotate(ks, ((b * keys + j) * kvHeads + h) * d, d, positions[b * rowStride + j], theta, layout);
                    }
                }
            }
        }
        double[] expected = new double[batch * length * heads * d];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int kvHead = h / group;   // Hugging Face repeat_kv
                for (int t = 0; t < length; t++) {
                    double[] weights = new double[keys];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < keys; j++) {
                        boolean visible = (!causal || j <= t + keys - length) && (!padding || mask[b * keys + j] == 1);
                        if (!visible) {
                            weights[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        int qAt = ((b * length + t) * heads + h) * d, kAt = ((b * keys + j) * kvHeads + kvHead) * d;
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += qs[qAt + i] * ks[kAt + i];
                        weights[j] = dot / Math.sqrt(d);
                        max = Math.max(max, weights[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < keys; j++) {
                        weights[j] = Math.exp(weights[j] - max);
                        sum += weights[j];
                    }
                    for (int i = 0; i < d; i++) {
                        double out = 0;
                        for (int j = 0; j < keys; j++) {
                            out += weights[j] / sum * vs[((b * keys + j) * kvHeads + kvHead) * d + i];
                        }
                        expected[((b * length + t) * heads + h) * d + i] = out;
                    }
                }
            }
        }
        assertArrayEquals(expected, actual, 1e-12);
    }

    @Test
    void crossEntropyIsTheMeanOverLabelledRows() {
        Tensor logits = random.random(2, 3, 5);
        int[] targets = {4, CrossEntropy.IGNORE, 1};
        double[] l = host(logits);
        double expected = 0;
        for (int r : new int[] {0, 2}) {
            double sum = 0;
            for (int c = 0; c < 5; c++) sum += Math.exp(l[r * 5 + c]);
            expected += Math.log(sum) - l[r * 5 + targets[r]];
        }
        Variable loss = CrossEntropy.apply(tape, constant(logits), targets);
        assertEquals(0, loss.value().rank(), "the loss is a scalar");
        assertEquals(expected / 2, host(loss.value())[0], 1e-12);
    }

    @Test
    void scaleMultipliesEveryElementAndRefusesANonFiniteFactor() {
        Tensor x = random.random(1, 2, 3);
        double[] xs = host(x);
        double[] expected = new double[xs.length];
        for (int i = 0; i < xs.length; i++) expected[i] = 20 * xs[i];
        Variable y = Scale.apply(tape, constant(x), 20);
        assertArrayEquals(new int[] {2, 3}, y.shape());
        assertArrayEquals(expected, host(y.value()), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Scale.apply(tape, constant(x), Double.NaN));
    }

    @Test
    void crossEntropyRefusesABatchWithoutLabelsAndAnOutOfRangeTarget() {
        Variable logits = constant(random.random(1, 2, 5));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.apply(tape, logits, new int[] {CrossEntropy.IGNORE, CrossEntropy.IGNORE}));
        assertTrue(none.getMessage().contains("labelled"), none.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> CrossEntropy.apply(tape, logits, new int[] {5, 0}));
    }

    @Test
    void concatPromptPutsThePromptFirstInEveryRow() {
        Tensor prompt = random.random(1, 2, 3);
        Tensor tokens = random.random(1, 2, 4, 3);
        double[] out = host(ConcatPrompt.apply(tape, constant(prompt), constant(tokens)).value());
        double[] p = host(prompt), t = host(tokens);
        assertEquals(2 * 6 * 3, out.length);
        for (int b = 0; b < 2; b++) {
            for (int c = 0; c < 6 * 3; c++) {
                double expected = c < 6 ? p[c] : t[b * 12 + c - 6];
                assertEquals(expected, out[b * 18 + c], 0.0, "row " + b + " element " + c);
            }
        }
    }

    @Test
    void splitTakesConsecutiveColumnBlocks() {
        Tensor x = random.random(1, 2, 3, 6);
        Variable[] parts = Split.apply(tape, constant(x), 3);
        double[] xs = host(x);
        for (int p = 0; p < 3; p++) {
            assertArrayEquals(new int[] {2, 3, 2}, parts[p].shape());
            double[] part = host(parts[p].value());
            for (int r = 0; r < 6; r++) {
                assertEquals(xs[r * 6 + 2 * p], part[r * 2], 0.0);
                assertEquals(xs[r * 6 + 2 * p + 1], part[r * 2 + 1], 0.0);
            }
        }
    }

    @Test
    void matmulTransposesAsAsked() {
        Tensor a = random.random(1, 2, 3, 2);   // (batch, k, m) read transposed
        Tensor b = random.random(1, 2, 4, 3);   // (batch, n, k) read transposed
        double[] c = host(MatMul.apply(tape, constant(a), constant(b), true, true).value());
        double[] as = host(a), bs = host(b);
        for (int batch = 0; batch < 2; batch++) {
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 4; j++) {
                    double sum = 0;
                    for (int kk = 0; kk < 3; kk++) sum += as[batch * 6 + kk * 2 + i] * bs[batch * 12 + j * 3 + kk];
                    assertEquals(sum, c[batch * 8 + i * 4 + j], 1e-12);
                }
            }
        }
    }

    @Test
    void embeddingGathersRowsAndIsAConstant() {
        Tensor table = random.random(1, 5, 3);
        Variable out = Embedding.apply(tape, table, new int[] {4, 0, 4, 2}, 2, 2);
        assertArrayEquals(new int[] {2, 2, 3}, out.shape());
        assertFalse(out.requiresGrad());
        assertEquals(0, tape.recordedOps());
        double[] t = host(table), o = host(out.value());
        int[] ids = {4, 0, 4, 2};
        for (int i = 0; i < 4; i++) {
            for (int c = 0; c < 3; c++) assertEquals(t[ids[i] * 3 + c], o[i * 3 + c], 0.0);
        }
    }

    @Test
    void embeddingRefusesATrainableTableAndUnknownIds() {
        Tensor table = random.random(1, 5, 3);
        IllegalArgumentException trainable = assertThrows(IllegalArgumentException.class,
                () -> Embedding.apply(tape, tape.parameter(table, "wte"), new int[] {1}, 1));
        assertTrue(trainable.getMessage().contains("ConcatPrompt"), trainable.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> Embedding.apply(tape, table, new int[] {5}, 1));
    }
}
