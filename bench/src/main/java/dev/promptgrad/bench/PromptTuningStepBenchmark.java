package dev.promptgrad.bench;

import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.model.Gpt2;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.RandomModels;
import dev.promptgrad.prompt.PromptTuningStep;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One soft-prompt training step (loss, dLoss/dPrompt, AdamW) of a randomly initialised GPT-2 small (12 layers, 768
 * wide, 12 heads, vocab 50257) on the CPU backend: batch 4 × 128 tokens behind 20 virtual tokens, every token
 * labelled or only the last 4 — the step {@code promptgrad bench step} times, so regressions show here too.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(1)
public class PromptTuningStepBenchmark {
    static final int LAYERS = 12, DIM = 768, HEADS = 12, VOCAB = 50257, POSITIONS = 1024;
    static final int BATCH = 4, TOKENS = 128, VIRTUAL_TOKENS = 20;

    /** Labelled tokens at the end of each sequence: all 128, or the last 4. */
    @Param({"128", "4"})
    int labelled;

    private CpuBackend backend;
    private Gpt2 model;
    private PromptTuningStep step;

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend();
        model = RandomModels.gpt2(new Gpt2Config(VOCAB, POSITIONS, DIM, LAYERS, HEADS, 4 * DIM, 1e-5,
                UnaryOp.GELU_TANH, true), backend, 1);
        step = new PromptTuningStep(model, RandomModels.batch(BATCH, TOKENS, VOCAB, labelled, 2),
                GemmBenchmark.random(VIRTUAL_TOKENS * DIM, 3), 1e-3);
    }

    @Benchmark
    public double step() {
        return step.run();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        step.close();
        model.close();
        backend.close();
    }
}
