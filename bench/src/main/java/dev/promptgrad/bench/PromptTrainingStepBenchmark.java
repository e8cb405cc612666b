package dev.promptgrad.bench;

import dev.promptgrad.backend.CountingBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.model.Gpt2;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.RandomModels;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.train.CausalLmObjective;
import dev.promptgrad.train.TrainingStep;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One soft-prompt training step (forward, backward to the prompt, AdamW update) of a GPT-2-small-shaped model
 * with random weights (12 layers, 768 wide, 12 heads, vocab 50257) on the CPU backend: batch 4 × 128 tokens
 * behind 20 prompt rows, every token scored or only the last 4 of each sequence ({@code promptgrad bench step}'s
 * {@code --labelled all} and {@code last:4}; docs/performance.md). Setup counts the GEMM FLOPs the step issues
 * once, and prints them
 * beside what a full fine-tune of the same step would issue: the same GEMMs plus each frozen matrix's dW
 * (2 · rows · in · out per Linear, and the tied head's), which the tape never computes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 10)
@Fork(1)
public class PromptTrainingStepBenchmark {
    static final int LAYERS = 12, DIM = 768, HEADS = 12, VOCAB = 50257, CONTEXT = 1024;
    static final int BATCH = 4, TOKENS = 128, PROMPT_ROWS = 20;

    /** Scored tokens at the end of each sequence: all 128, or the last 4. */
    @Param({"128", "4"})
    int labelled;

    private CountingBackend backend;
    private Gpt2 model;
    private TrainingStep step;
    private Adam optimizer;
    private List<CausalLmObjective.Batch> batches;
    private float[] prompt;       // (PROMPT_ROWS, DIM)

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CountingBackend(new CpuBackend());
        Gpt2Config config = new Gpt2Config(VOCAB, CONTEXT, DIM, LAYERS, HEADS, 4 * DIM, 1e-5, UnaryOp.GELU_TANH, true);
        model = RandomModels.gpt2(config, backend, 1);
        SplittableRandom random = new SplittableRandom(7);
        int[] ids = new int[BATCH * TOKENS];                    // (BATCH, TOKENS)
        for (int i = 0; i < ids.length; i++) ids[i] = random.nextInt(VOCAB);
        int[] labels = ids.clone();                            // (BATCH, TOKENS), -100 before the last `labelled`
        for (int i = 0; i < labels.length; i++) if (i % TOKENS < TOKENS - labelled) labels[i] = -100;
        TokenBatch tokens = new TokenBatch(BATCH, TOKENS, ids, null, labels);
        batches = List.of(new CausalLmObjective.Batch(model, tokens, PROMPT_ROWS));
        prompt = new float[PROMPT_ROWS * DIM];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (float) (random.nextGaussian() * 0.02);
        optimizer = new Adam(List.of(Parameter.of("prompt_embeddings", PROMPT_ROWS, DIM)), Adam.Settings.ADAMW);
        step = new TrainingStep(model, PROMPT_ROWS);

        backend.reset();
        trainingStep();
        long issued = backend.gemmFlops();
        long skipped = skippedWeightGradientFlops();
        System.out.printf(Locale.ROOT, "%nGEMM FLOPs of one prompt-tuning step: %.1f G; a full fine-tune of the same"
                        + " step adds %.1f G of dW GEMMs (%.1f G in all); prompt tuning issues %.3f of it%n",
                issued / 1e9, skipped / 1e9, (issued + skipped) / 1e9, (double) issued / (issued + skipped));
    }

    /** GPT-2's init: N(0, 0.02) matrices, LayerNorm gains 1 and biases 0. */

    /**
     * The dW GEMMs a full fine-tune would add, over rows = batch × (prompt + tokens): per block c_attn
     * (dim → 3·dim), attn.c_proj (dim → dim), mlp.c_fc (dim → 4·dim), mlp.c_proj (4·dim → dim), and the tied
     * head (dim → vocab), each 2 · rows · in · out.
     */
    static long skippedWeightGradientFlops() {
        long rows = (long) BATCH * (PROMPT_ROWS + TOKENS);
        long perBlock = (long) DIM * 3 * DIM + (long) DIM * DIM + (long) DIM * 4 * DIM + 4L * DIM * DIM;
        return 2 * rows * (LAYERS * perBlock + (long) DIM * VOCAB);
    }

    @Setup(Level.Iteration)
    public void resetCounts() {
        backend.reset();
    }

    @Benchmark
    public double trainingStep() {
        return step.run(prompt, batches, optimizer, 1e-3, 1.0).loss();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        step.close();
        model.close();
        backend.close();
    }
}
