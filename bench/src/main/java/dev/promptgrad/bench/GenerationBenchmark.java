package dev.promptgrad.bench;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Decoder;
import dev.promptgrad.generate.Generation;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.generate.RecomputingDecoder;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.WeightStorage;
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
 * Greedy generation of {@link #TOKENS} tokens from BOS on the CPU backend, with the KV cache
 * ({@link CachedDecoder}) and by recomputing the whole sequence each step ({@link RecomputingDecoder}), on the
 * real stories260K checkpoint and on a random GPT-2-small-shaped model, with float32 or bfloat16 weight matrices.
 * Time per generation;
 * {@link BenchmarkReport} turns it into tokens/s.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class GenerationBenchmark {
    /** Tokens generated per benchmark operation. */
    public static final int TOKENS = 32;

    @Param({"stories260K", "gpt2-small-random"})
    public String model;

    @Param({"true", "false"})
    public boolean kvCache;

    /** Storage of the weight matrices ({@code --weights}): float32, or bfloat16 widened in every product. */
    @Param({"f32", "bf16"})
    public String weights;

    private Backend backend;
    private LanguageModel languageModel;
    private final GenerationSettings settings = GenerationSettings.greedy(TOKENS);

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend();
        languageModel = model.equals("stories260K")
                ? Llama2cCheckpoint.load(BenchModels.stories260K(), backend, WeightStorage.parse(weights))
                : BenchModels.gpt2Small(backend, 42, WeightStorage.parse(weights));
    }

    @Benchmark
    public Generation generate() {
        try (Decoder decoder = kvCache ? new CachedDecoder(languageModel, null, TOKENS + 1)
                : new RecomputingDecoder(languageModel, null)) {
            return Generator.generate(decoder, new int[]{1}, settings, null);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        languageModel.close();
        backend.close();
    }
}
