package dev.promptgrad.bench;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.data.Example;
import dev.promptgrad.hard.CandidateFilter;
import dev.promptgrad.hard.Gcg;
import dev.promptgrad.hard.HardPromptSearch;
import dev.promptgrad.hard.Pez;
import dev.promptgrad.hard.PromptObjective;
import dev.promptgrad.hard.PromptPlacement;
import dev.promptgrad.hard.VocabularyIndex;
import dev.promptgrad.model.Gpt2;
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

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * One PEZ step and one GCG step (with its batch of swaps scored in as few batched forwards as {@code memoryMib}
 * allows) on the GPT-2-small shape with random weights, CPU backend, on {@code examples} sequences of
 * {@code exampleTokens} scored tokens. The defaults are the papers' (20 tokens; GCG 512 swaps, top-k 256); pass e.g.
 * {@code -p candidates=16} for a quick run. Setup prints how the swaps are cut into forwards.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class HardPromptStepBenchmark {

    @Param("20")
    int tokens;

    @Param("1")
    int examples;

    @Param("16")
    int exampleTokens;

    @Param("256")
    int topK;

    @Param("512")
    int candidates;

    @Param("1024")
    long memoryMib;

    private Backend backend;
    private Gpt2 model;
    private VocabularyIndex index;
    private PromptObjective objective;
    private Pez pez;
    private Gcg gcg;
    private List<Example> batch;

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend();
        model = BenchModels.gpt2Small(backend, 42);
        CandidateFilter filter = CandidateFilter.build(model.vocabSize(), null, Set.of(50256),
                CandidateFilter.Settings.DEFAULT);
        index = new VocabularyIndex(backend, model.embeddingTable(), filter);
        objective = new PromptObjective(model, PromptPlacement.FIRST, 0, memoryMib << 20);
        SplittableRandom random = new SplittableRandom(3);
        batch = new ArrayList<>();
        for (int e = 0; e < examples; e++) {
            int[] ids = new int[exampleTokens];                              // (exampleTokens), every one scored
            for (int t = 0; t < ids.length; t++) ids[t] = random.nextInt(50256);
            batch.add(Example.everyToken(ids));
        }
        int[] start = HardPromptSearch.randomStart(filter, tokens, 1);
        pez = new Pez(objective, index, start, Pez.Settings.ADAMW);
        gcg = new Gcg(objective, index, filter, start, new Gcg.Settings(topK, candidates), 1);
        int perForward = objective.rowsPerForward(tokens + exampleTokens);
        long rows = (long) candidates * examples;
        System.out.printf(Locale.ROOT, "%nGCG step: %d swaps × %d examples = %d rows of %d tokens, %d rows per forward"
                + " (%d MiB budget): %d batched forwards%n", candidates, examples, rows, tokens + exampleTokens,
                perForward, memoryMib, (rows + perForward - 1) / perForward);
    }

    @Benchmark
    public double pezStep() {
        return pez.step(batch);
    }

    @Benchmark
    public double gcgStep() {
        return gcg.step(batch);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        objective.close();
        index.close();
        model.close();
        backend.close();
    }
}
