package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory around a float32 training step: a second step allocates nothing, closing the workspace, the
 * weights and the prompt's scope frees every byte, and a tensor outliving its owner fails loudly.
 */
class OwnershipTest {
    private static final int VOCAB = 11, DIM = 8, PROMPT = 2, TOKENS = 3;

    private ReferenceBackend backend;
    private Weights weights;
    private Scope scope;
    private Workspace workspace;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        weights = new Weights(backend, "tiny");
        scope = new Scope(backend, "prompt");
        workspace = new Workspace(backend, "step");
        Random random = new Random(23);
        weights.put("wte", values(random, VOCAB * DIM), VOCAB, DIM);
        weights.put("ln.weight", values(random, DIM), DIM);
        weights.put("ln.bias", values(random, DIM), DIM);
        weights.put("qkv.weight", values(random, DIM * 3 * DIM), DIM, 3 * DIM);
        weights.put("qkv.bias", values(random, 3 * DIM), 3 * DIM);
    }

    @AfterEach
    void close() {
        workspace.close();
        weights.close();
        scope.close();
        backend.close();
    }

    private static float[] values(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) random.nextGaussian() * 0.5f;
        return v;
    }

    /** One forward and backward; returns the first activation, for tests that use it later. */
    private Tensor step(Tape tape, Tensor promptValue) {
        Variable prompt = tape.parameter(promptValue, "prompt");
        Variable tokens = Embedding.apply(tape, weights.get("wte"), new int[] {1, 5, 7, 2, 2, 9}, 2, TOKENS);
        Variable x = ConcatPrompt.apply(tape, prompt, tokens);
        Variable h = LayerNorm.apply(tape, x, weights.get("ln.weight"), weights.get("ln.bias"), 1e-5);
        Variable qkv = BiasAdd.apply(tape, Linear.apply(tape, h, weights.get("qkv.weight"), Linear.Layout.IN_OUT),
                weights.get("qkv.bias"));
        Variable[] split = Split.apply(tape, qkv, 3);
        Variable attention = Attention.apply(tape, split[0], split[1], split[2], 2, 2, true, null, null);
        Variable attended = Add.apply(tape, x, attention);
        Variable logits = Linear.apply(tape, attended, weights.get("wte"), Linear.Layout.OUT_IN);
        int[] targets = new int[2 * (PROMPT + TOKENS)];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i % (PROMPT + TOKENS) < PROMPT ? CrossEntropy.IGNORE : i % VOCAB;
        }
        Variable loss = CrossEntropy.apply(tape, logits, targets);
        float[] dPrompt = backend.download(tape.backward(loss).of(prompt));
        assertEquals(PROMPT * DIM, dPrompt.length);
        return x.value();
    }

    @Test
    void liveBytesReturnToZeroAndALaterStepAllocatesNothing() {
        Tape tape = new Tape(backend, workspace);
        Tensor prompt = scope.of(values(new Random(1), PROMPT * DIM), PROMPT, DIM);
        step(tape, prompt);
        tape.reset();
        long allocations = workspace.allocations();
        step(tape, prompt);
        assertEquals(allocations, workspace.allocations(), "the second step reuses the first step's memory");
        assertTrue(backend.liveBytes() > 0);

        workspace.close();
        weights.close();
        scope.close();
        assertEquals(0, backend.liveBytes());
    }

    @Test
    void anActivationOfAClosedWorkspaceFailsLoudly() {
        Tape tape = new Tape(backend, workspace);
        Tensor activation = step(tape, scope.of(values(new Random(2), PROMPT * DIM), PROMPT, DIM));
        workspace.close();

        IllegalStateException read = assertThrows(IllegalStateException.class, () -> backend.download(activation));
        assertTrue(read.getMessage().contains("workspace 'step'"), read.getMessage());
        Variable stale = tape.constant(activation, "stale");
        IllegalStateException op = assertThrows(IllegalStateException.class,
                () -> Linear.apply(tape, stale, weights.get("qkv.weight"), Linear.Layout.IN_OUT));
        assertTrue(op.getMessage().contains("closed"), op.getMessage());
    }

    @Test
    void aWeightOfClosedWeightsFailsLoudly() {
        Tape tape = new Tape(backend, workspace);
        Tensor qkvWeight = weights.get("qkv.weight");
        weights.close();
        Variable x = tape.parameter(scope.of(new float[DIM], 1, DIM), "x");
        IllegalStateException failure = assertThrows(IllegalStateException.class,
                () -> Linear.apply(tape, x, qkvWeight, Linear.Layout.IN_OUT));
        assertTrue(failure.getMessage().contains("weights of 'tiny'"), failure.getMessage());
    }
}
