package dev.promptgrad.bench;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.model.Gpt2;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.RandomModels;
import dev.promptgrad.model.WeightStorage;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The models the benchmarks run, needing no files but ../shared: a GPT-2-small-shaped model (12 layers, 768 wide,
 * 12 heads, vocab 50257, 1024 positions) with seeded random weights from models' {@link RandomModels}, and the
 * path of the real stories260K checkpoint. Benchmarks only time things; nothing here is checked.
 */
final class BenchModels {

    static final Gpt2Config GPT2_SMALL = new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, UnaryOp.GELU_TANH, true);

    private BenchModels() {
    }

    /** A random GPT-2-small-shaped model on {@code backend}, the same for the same seed. */
    static Gpt2 gpt2Small(Backend backend, long seed) {
        return RandomModels.gpt2(GPT2_SMALL, backend, seed);
    }

    /** As {@link #gpt2Small(Backend, long)}, its matrices stored as {@code storage} says. */
    static Gpt2 gpt2Small(Backend backend, long seed, WeightStorage storage) {
        return RandomModels.gpt2(GPT2_SMALL, backend, seed, storage);
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
