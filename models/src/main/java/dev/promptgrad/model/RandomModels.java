package dev.promptgrad.model;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.safetensors.SafetensorsDType;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * GPT-2 and Llama models of any shape with seeded random weights, as Hugging Face initialises them before
 * training: matrices N(0, 0.02²), biases 0, norm scales 1. For benchmarks and tests that need a model's cost
 * and shapes, not its knowledge; it reads no file. Values are uploaded a few thousand rows at a time, so even a
 * large table never needs a Java array of its full size.
 */
public final class RandomModels {

    /** Hugging Face's {@code initializer_range}: the standard deviation of every matrix. */
    public static final double STD = 0.02;

    private static final int UPLOAD_ELEMENTS = 1 << 20;   // floats per upload

    private RandomModels() {
    }

    /** A GPT-2 of {@code config}'s shape; the model owns the weights it allocates on {@code backend}. */
    public static Gpt2 gpt2(Gpt2Config config, Backend backend, long seed) {
        return gpt2(config, backend, seed, WeightStorage.F32);
    }

    /** As {@link #gpt2(Gpt2Config, Backend, long)}, the matrices stored as {@code storage} says (AUTO: float32). */
    public static Gpt2 gpt2(Gpt2Config config, Backend backend, long seed, WeightStorage storage) {
        storage.requireSupportedBy(backend);
        Weights weights = new Weights(backend, "random gpt2");
        try {
            fill(weights, Gpt2.weightSpecs(config), seed, storage);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
        return new Gpt2("random gpt2", config, weights);
    }

    /** A Llama (or Mistral, Qwen2) of {@code config}'s shape. */
    public static Llama llama(LlamaConfig config, Backend backend, long seed) {
        return llama(config, backend, seed, WeightStorage.F32);
    }

    /** As {@link #llama(LlamaConfig, Backend, long)}, the matrices stored as {@code storage} says (AUTO: float32). */
    public static Llama llama(LlamaConfig config, Backend backend, long seed, WeightStorage storage) {
        storage.requireSupportedBy(backend);
        Weights weights = new Weights(backend, "random " + config.modelType());
        try {
            fill(weights, Llama.weightSpecs(config), seed, storage);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
        return new Llama("random " + config.modelType(), config, weights);
    }

    /**
     * {@code size} sequences of {@code tokens} random ids below {@code vocab}, unpadded, labelled (with their own
     * ids, as for style tuning) on their last {@code labelled} tokens and -100 before.
     */
    public static TokenBatch batch(int size, int tokens, int vocab, int labelled, long seed) {
        if (labelled < 1 || labelled > tokens) {
            throw new IllegalArgumentException("cannot label the last " + labelled + " of " + tokens + " tokens");
        }
        SplittableRandom random = new SplittableRandom(seed);
        int[] ids = new int[size * tokens];
        int[] labels = new int[size * tokens];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
            labels[i] = i % tokens >= tokens - labelled ? ids[i] : CrossEntropy.IGNORE;
        }
        return new TokenBatch(size, tokens, ids, null, labels);
    }

    private static void fill(Weights weights, List<WeightSpec> specs, long seed, WeightStorage storage) {
        SplittableRandom random = new SplittableRandom(seed);
        for (WeightSpec spec : specs) {
            Tensor t = weights.allocate(spec.name(),
                    storage.dtypeFor(spec.shape(), SafetensorsDType.F32, weights.backend()), spec.shape());
            String name = spec.name();
            if (spec.shape().length == 1) {
                boolean scale = !name.endsWith(".bias");   // LayerNorm/RMSNorm weights
                float[] values = new float[t.dim(0)];
                if (scale) Arrays.fill(values, 1f);
                weights.backend().upload(values, t);
                continue;
            }
            int cols = t.dim(-1);
            int rowsPerUpload = Math.max(1, UPLOAD_ELEMENTS / cols);
            float[] values = new float[Math.min(t.dim(0), rowsPerUpload) * cols];   // reused: little garbage
            for (int from = 0; from < t.dim(0); from += rowsPerUpload) {
                int to = Math.min(t.dim(0), from + rowsPerUpload);
                if (values.length != (to - from) * cols) values = new float[(to - from) * cols];
                for (int i = 0; i < values.length; i++) values[i] = (float) (STD * gaussian(random));
                weights.backend().upload(values, t.slice(from, to));
            }
        }
    }

    /** A standard normal value (Box–Muller, one of the pair). */
    private static double gaussian(SplittableRandom random) {
        double u = 1 - random.nextDouble();   // (0, 1]
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.nextDouble());
    }
}
