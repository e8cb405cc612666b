package dev.promptgrad.ops;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.CountingBackend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * dLoss/dPrompt through a whole two-block toy transformer (GPT-2 and Llama blocks, padding, ignored
 * labels) against finite differences, and what its backward costs: with frozen weights, not one
 * weight-gradient GEMM.
 */
class ToyTransformerTest {
    private static final int PROMPT = 2, BATCH = 2, TOKENS = 4, LENGTH = PROMPT + TOKENS;

    private CountingBackend backend;
    private Scope scope;
    private GradientCheck check;
    private ToyTransformer model;
    private ToyTransformer.Batch batch;
    private Tensor prompt;   // (PROMPT, DIM)

    @BeforeEach
    void open() {
        backend = new CountingBackend(new ReferenceBackend());
        scope = new Scope(backend, "toy transformer test");
        check = new GradientCheck(backend, scope, 7);
        model = new ToyTransformer(check);
        prompt = check.random(1, PROMPT, ToyTransformer.DIM);
        Random random = new Random(11);
        int[][] ids = new int[BATCH][TOKENS];
        for (int[] row : ids) {
            for (int t = 0; t < TOKENS; t++) row[t] = random.nextInt(ToyTransformer.VOCAB);
        }
        // row 1 is left-padded by one token, after the prompt (PEFT's order)
        Tensor keyMask = check.of(new double[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1}, BATCH, LENGTH);
        int[] targets = new int[BATCH * LENGTH];
        for (int b = 0; b < BATCH; b++) {
            for (int s = 0; s < LENGTH; s++) {
                int t = s - PROMPT;
                targets[b * LENGTH + s] = t >= 0 && t + 1 < TOKENS ? ids[b][t + 1] : CrossEntropy.IGNORE;
            }
        }
        targets[PROMPT] = CrossEntropy.IGNORE;             // the padding position of row 1 is not labelled either;
        targets[LENGTH + PROMPT] = CrossEntropy.IGNORE;    // in row 0 one label is dropped, as for an input part
        batch = new ToyTransformer.Batch(ids, keyMask, targets);
    }

    @AfterEach
    void close() {
        scope.close();
        assertEquals(0, backend.liveBytes());
        backend.close();
    }

    @Test
    void promptGradientMatchesFiniteDifferences() {
        check.check("toy transformer", (tape, in) -> model.loss(tape, in[0], batch, false),
                new String[] {"prompt"}, prompt);
    }

    @Test
    void unitSeedGivesTheSameGradientAsAScaledOne() {
        try (Workspace workspace = new Workspace(backend, DType.F64, "seed")) {
            Tape tape = new Tape(backend, workspace);
            Variable p = tape.parameter(prompt, "prompt");
            double[] unit = backend.downloadDouble(tape.backward(model.loss(tape, p, batch, false)).of(p));
            tape.reset();
            p = tape.parameter(prompt, "prompt");
            Variable loss = model.loss(tape, p, batch, false);
            Tensor seed = tape.allocate();
            backend.upload(new double[] {-2.5}, seed);
            double[] scaled = backend.downloadDouble(tape.backward(loss, seed).of(p));
            for (int i = 0; i < unit.length; i++) unit[i] *= -2.5;
            assertArrayEquals(unit, scaled, 1e-12);
        }
    }

    /** GEMMs of a backward pass, and the prompt's gradient, with weights frozen or trainable. */
    private record Backward(List<Gemm> gemms, long flops, double[] dPrompt) {
        long unbatched() {
            return gemms.stream().filter(g -> g.batch() == 1).count();
        }

        long batched() {
            return gemms.stream().filter(g -> g.batch() > 1).count();
        }
    }

    private Backward backward(boolean trainableWeights) {
        try (Workspace workspace = new Workspace(backend, DType.F64, "step")) {
            Tape tape = new Tape(backend, workspace);
            Variable p = tape.parameter(prompt, "prompt");
            Variable loss = model.loss(tape, p, batch, trainableWeights);
            backend.reset();
            Gradients grads = tape.backward(loss);
            return new Backward(backend.gemms(), backend.gemmFlops(), backend.downloadDouble(grads.of(p)));
        }
    }

    @Test
    void frozenBackwardIssuesNoWeightGradientGemm() {
        int rows = BATCH * LENGTH;
        List<ToyTransformer.LinearWeight> linears = model.linears();
        Backward frozen = backward(false);
        Backward trainable = backward(true);

        // one dx GEMM per Linear ([rows, out] · W → [rows, in]), and nothing shaped like a weight gradient
        assertEquals(linears.size(), frozen.unbatched());
        assertTrue(frozen.gemms().stream().filter(g -> g.batch() == 1).allMatch(g -> g.m() == rows && g.k() != rows),
                "every unbatched backward GEMM is a dx product: " + frozen.gemms());
        // fine-tuning adds exactly one dW GEMM per Linear, with exactly its FLOPs; attention's products are the same
        assertEquals(2L * linears.size(), trainable.unbatched());
        assertEquals(frozen.batched(), trainable.batched());
        assertEquals(8, frozen.batched(), "two attention layers × (dQ, dK, dProbs, dV)");
        long dWFlops = linears.stream().mapToLong(l -> l.dWFlops(rows)).sum();
        assertEquals(trainable.flops() - dWFlops, frozen.flops());
        assertTrue(frozen.flops() < trainable.flops());
        assertArrayEquals(trainable.dPrompt(), frozen.dPrompt(), 1e-12, "freezing the weights does not change dPrompt");
    }
}
