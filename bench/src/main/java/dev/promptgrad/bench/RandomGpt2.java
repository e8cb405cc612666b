package dev.promptgrad.bench;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.model.Gpt2;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.WeightSpec;
import dev.promptgrad.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Benchmark models that need no files: a GPT-2-small-shaped model (12 layers, 768 wide, 12 heads, vocab
 * 50257, 1024 positions) with seeded random weights (N(0, 0.02), LayerNorm weights 1, biases 0), and the
 * path of the real stories260K checkpoint in ../shared. Not for tests: benchmarks only time things.
 */
final class RandomGpt2 {

    static final Gpt2Config SMALL = new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, UnaryOp.GELU_TANH, true);

    private RandomGpt2() {
    }

    static Gpt2 build(Backend backend, Gpt2Config config, long seed) {
        Weights weights = new Weights(backend, "random gpt2");
        SplittableRandom random = new SplittableRandom(seed);
        for (WeightSpec spec : Gpt2.weightSpecs(config)) {
            float[] values = new float[Math.toIntExact(spec.size())];
            if (spec.name().contains("ln_") && spec.name().endsWith(".weight")) {
                Arrays.fill(values, 1f);
            } else if (!spec.name().endsWith(".bias")) {
                for (int i = 0; i < values.length; i++) values[i] = (float) (0.02 * gaussian(random));
            }
            weights.put(spec.name(), values, spec.shape());
        }
        return new Gpt2("random gpt2-small", config, weights);
    }

    private static double gaussian(SplittableRandom random) {
        return Math.sqrt(-2 * Math.log(1 - random.nextDouble())) * Math.cos(2 * Math.PI * random.nextDouble());
    }

    /** ../shared/models/stories260K/stories260K.bin, found by walking up from the working directory. */
    static Path stories260K() {
        String override = System.getProperty("promptgrad.shared");
        if (override != null) return Path.of(override, "models", "stories260K", "stories260K.bin");
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared/models/stories260K/stories260K.bin");
            if (Files.isRegularFile(candidate)) return candidate;
        }
        throw new IllegalStateException("stories260K.bin not found above " + Path.of("").toAbsolutePath()
                + "; run from the repository (with ../shared beside it) or pass -Dpromptgrad.shared=DIR");
    }
}
