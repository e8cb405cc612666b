package dev.promptgrad.bench;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * What {@code ./promptgrad grad} computes, on the GPT-2-small shape: the loss of a 20-row soft prompt over a
 * batch of 4 × 128 labelled tokens and dLoss/dPrompt (forward + backward, frozen weights, no optimizer).
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 4)
@Measurement(iterations = 5, time = 4)
@Fork(1)
public class GradBenchmark {
    static final int BATCH = 4, TOKENS = 128, PROMPT_ROWS = 20;

    private Backend backend;
    private LanguageModel model;
    private Scope scope;
    private Workspace workspace;
    private Tape tape;
    private Tensor prompt;      // (PROMPT_ROWS, dim)
    private TokenBatch batch;   // (BATCH, TOKENS), every token labelled

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend();
        model = BenchModels.gpt2Small(backend, 42);
        scope = new Scope(backend, "prompt");
        SplittableRandom random = new SplittableRandom(3);
        float[] values = new float[PROMPT_ROWS * model.dim()];
        for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextDouble() - 0.5) * 0.1f;
        prompt = scope.of(values, PROMPT_ROWS, model.dim());
        int[][] ids = new int[BATCH][TOKENS];
        int[][] mask = new int[BATCH][TOKENS];
        for (int b = 0; b < BATCH; b++) {
            for (int t = 0; t < TOKENS; t++) {
                ids[b][t] = random.nextInt(model.vocabSize());
                mask[b][t] = 1;
            }
        }
        batch = TokenBatch.of(ids, mask, ids);
        workspace = new Workspace(backend, "grad step");
        tape = new Tape(backend, workspace);
    }

    @Benchmark
    public Tensor forwardBackward() {
        tape.reset();
        Variable p = tape.parameter(prompt, "prompt_embeddings");
        Variable loss = model.loss(tape, batch, p);
        return tape.backward(loss).of(p);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        workspace.close();
        scope.close();
        model.close();
        backend.close();
    }
}
