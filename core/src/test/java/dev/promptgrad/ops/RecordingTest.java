package dev.promptgrad.ops;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Only ops on a path from a parameter are recorded; everything computed from constants stays off the tape. */
class RecordingTest {
    private ReferenceBackend backend;
    private Scope scope;
    private Workspace workspace;
    private Tape tape;
    private GradientCheck random;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        scope = new Scope(backend, "recording test");
        workspace = new Workspace(backend, DType.F64, "recording test");
        tape = new Tape(backend, workspace);
        random = new GradientCheck(backend, scope, 17);
    }

    @AfterEach
    void close() {
        workspace.close();
        scope.close();
        backend.close();
    }

    @Test
    void anObserverSeesEachRecordedOutputsWholeGradient() {
        Variable p = tape.parameter(random.random(1, 2, 3), "p");
        Variable h = Activation.apply(tape, UnaryOp.SILU, p);                                     // (2, 3)
        Variable out = Add.apply(tape, h, h);                                                     // used twice
        Tensor seed = random.random(1, 2, 3);
        Map<String, double[]> seen = new LinkedHashMap<>();
        Tensor dP = tape.backward(out, seed, (output, dOutput) -> seen.put(output.name(), backend.downloadDouble(dOutput)))
                .of(p);
        assertEquals(List.of("add", "silu"), List.copyOf(seen.keySet()), "backward order");
        double[] s = backend.downloadDouble(seed);
        double[] x = backend.downloadDouble(p.value());
        double[] expected = new double[s.length];
        double[] expectedP = new double[s.length];
        for (int i = 0; i < s.length; i++) {
            expected[i] = 2 * s[i];   // both uses of h, summed before the activation's backward runs
            double sigmoid = 1 / (1 + Math.exp(-x[i]));
            expectedP[i] = expected[i] * sigmoid * (1 + x[i] * (1 - sigmoid));
        }
        assertArrayEquals(s, seen.get("add"), 0);
        assertArrayEquals(expected, seen.get("silu"), 1e-15);
        assertArrayEquals(expectedP, backend.downloadDouble(dP), 1e-12);
    }

    @Test
    void opsOnConstantsAreNotRecorded() {
        Tensor table = random.random(1, 9, 4);
        Variable tokens = Embedding.apply(tape, table, new int[] {1, 2, 3, 4, 5, 6}, 2, 3);       // (2, 3, 4)
        Variable h = LayerNorm.apply(tape, tokens, random.around(1, 0.1, 4), random.random(0.1, 4), 1e-5);
        Variable projected = Linear.apply(tape, h, random.random(1, 4, 4), Linear.Layout.IN_OUT);
        Variable y = Activation.apply(tape, UnaryOp.GELU_TANH, projected);
        assertFalse(y.requiresGrad());
        assertEquals(0, tape.recordedOps(), tape.toString());

        Variable prompt = tape.parameter(random.random(1, 2, 4), "prompt");
        Variable x = ConcatPrompt.apply(tape, prompt, y);                                         // (2, 5, 4)
        Variable frozenBranch = RmsNorm.apply(tape, tokens, random.around(1, 0.1, 4), 1e-6);      // not recorded
        Variable out = Add.apply(tape, RmsNorm.apply(tape, x, random.around(1, 0.1, 4), 1e-6),
                Linear.apply(tape, x, random.random(1, 4, 4), Linear.Layout.OUT_IN));
        assertFalse(frozenBranch.requiresGrad());
        assertTrue(out.requiresGrad());
        assertEquals(4, tape.recordedOps(), "concat, rms norm, linear and add: " + tape);

        Gradients grads = tape.backward(out, random.random(1, 2, 5, 4));
        assertArrayEquals(new int[] {2, 4}, grads.of(prompt).shape());
    }

    @Test
    void attentionOnAConstantKeyValueBranchRecordsOnlyTheQueryPath() {
        Variable q = tape.parameter(random.random(1, 1, 3, 8), "q");
        Variable kv = tape.constant(random.random(1, 1, 3, 8), "kv");
        Variable out = Attention.apply(tape, q, kv, kv, 2, 2, true, null, null);
        // q: reshape, permute, reshape (grouped), matmul, reshape, softmax, reshape, matmul, reshape, permute, reshape
        assertEquals(11, tape.recordedOps(), tape.toString());
        assertTrue(out.requiresGrad());
    }
}
