package dev.promptgrad.example;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.ops.Activation;
import dev.promptgrad.ops.Attention;
import dev.promptgrad.ops.ConcatPrompt;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.ops.Embedding;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Optimizer;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The README's engine example, kept honest by running it: a tiny frozen model (embedding, one attention
 * layer, an MLP, a tied head) learns a 4-row soft prompt that makes it answer a fixed token. Only the
 * prompt moves; the weights are checked to be bit-identical afterwards.
 */
class PromptTuningExampleTest {
    static final int VOCAB = 32, DIM = 16, HEADS = 2, PROMPT_ROWS = 4;

    @Test
    void aSoftPromptLearnsWhileTheModelStaysFrozen() {
        SplittableRandom random = new SplittableRandom(7);
        try (Backend cpu = new CpuBackend();
             Weights weights = new Weights(cpu, "tiny");
             Scope trainable = new Scope(cpu, "prompt");
             Workspace step = new Workspace(cpu, "step")) {
            Tensor table = weights.put("wte", gaussian(random, VOCAB * DIM, 0.5), VOCAB, DIM);   // (vocab, dim)
            Tensor wq = weights.put("wq", gaussian(random, DIM * DIM, 0.3), DIM, DIM);            // (out, in)
            Tensor wk = weights.put("wk", gaussian(random, DIM * DIM, 0.3), DIM, DIM);
            Tensor wv = weights.put("wv", gaussian(random, DIM * DIM, 0.3), DIM, DIM);
            Tensor wUp = weights.put("w_up", gaussian(random, 4 * DIM * DIM, 0.3), 4 * DIM, DIM);
            float[] before = cpu.download(wq);

            float[] prompt = gaussian(random, PROMPT_ROWS * DIM, 0.5);
            Tensor promptTensor = trainable.of(prompt, PROMPT_ROWS, DIM);
            Optimizer adamw = new Adam(java.util.List.of(Parameter.of("prompt", PROMPT_ROWS, DIM)),
                    Adam.Settings.ADAMW.withWeightDecay(0));

            int[] ids = {3, 9, 4, 1, 5, 9};                  // (batch 2, T 3)
            int[] targets = new int[2 * (PROMPT_ROWS + 3)];  // the last position of each row must say 17
            Arrays.fill(targets, CrossEntropy.IGNORE);
            targets[PROMPT_ROWS + 2] = 17;
            targets[2 * (PROMPT_ROWS + 3) - 1] = 17;

            Tape tape = new Tape(cpu, step);
            double first = 0, last = 0;
            for (int s = 0; s < 60; s++) {
                tape.reset();
                Variable p = tape.parameter(promptTensor, "prompt");                                     // (P, dim)
                Variable x = ConcatPrompt.apply(tape, p, Embedding.apply(tape, table, ids, 2, 3));        // (2, P+3, dim)
                Variable q = Linear.apply(tape, x, wq, Linear.Layout.OUT_IN);
                Variable k = Linear.apply(tape, x, wk, Linear.Layout.OUT_IN);
                Variable v = Linear.apply(tape, x, wv, Linear.Layout.OUT_IN);
                Variable h = Attention.apply(tape, q, k, v, HEADS, HEADS, true, null, null);
                Variable up = Activation.apply(tape, UnaryOp.GELU_TANH, Linear.apply(tape, h, wUp, Linear.Layout.OUT_IN));
                Variable back = Linear.apply(tape, up, wUp, Linear.Layout.IN_OUT);                      // (2, P+3, dim)
                Variable logits = Linear.apply(tape, back, table, Linear.Layout.OUT_IN);                // tied head
                Variable loss = CrossEntropy.apply(tape, logits, targets);
                Gradients grads = tape.backward(loss);
                double value = cpu.download(loss.value())[0];
                if (s == 0) first = value;
                last = value;
                adamw.step(prompt, cpu.download(grads.of(p)), 0.05);
                cpu.upload(prompt, promptTensor);
            }
            assertTrue(last < 0.2 * first, "loss " + first + " -> " + last);
            assertEquals(Arrays.toString(before), Arrays.toString(cpu.download(wq)), "weights never change");
        }
    }

    private static float[] gaussian(SplittableRandom random, int size, double scale) {
        float[] values = new float[size];
        for (int i = 0; i < size; i++) {
            double u = random.nextDouble(), w = random.nextDouble();
            values[i] = (float) (scale * Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * w));
        }
        return values;
    }
}
