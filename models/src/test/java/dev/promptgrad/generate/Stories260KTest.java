package dev.promptgrad.generate;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.model.Llama;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.SharedFiles;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Generation with a real pretrained model, karpathy's stories260K (llama2.c format): greedy decoding from
 * BOS reproduces run.c's token ids, and decoding with the KV cache equals recomputing the whole sequence,
 * with and without a soft prompt in front.
 */
class Stories260KTest {

    /** run.c at temperature 0 from BOS (token 1): the first 64 generated ids (shared/models/stories260K/README.md). */
    private static final int[] RUN_C_GREEDY = {
            461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13,
            431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 293, 430, 417, 363, 416, 315, 342,
            418, 424, 400, 442, 402, 303, 266, 299, 374, 466, 396, 303, 271, 362, 390, 469, 306, 469, 423, 314,
            347, 305, 356, 333};
    private static final int BOS = 1;

    static java.util.stream.Stream<TestBackends.Named> backends() {
        return TestBackends.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void greedyFromBosReproducesRunC(TestBackends.Named named) {
        try (Backend backend = named.open();
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
             Decoder decoder = new CachedDecoder(model, null)) {
            Generation g = Generator.generate(decoder, new int[] {BOS}, GenerationSettings.greedy(64, BOS), null);
            assertArrayEquals(RUN_C_GREEDY, g.tokens());
            assertEquals(Generation.Reason.MAX_TOKENS, g.reason());
            assertEquals(64, decoder.length(), "BOS and 63 fed tokens; the 64th is chosen but not fed");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void cachedDecodingEqualsRecomputingWithSoftPrompt(TestBackends.Named named) {
        try (Backend backend = named.open();
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
             Scope scope = new Scope(backend, "prompt")) {
            Tensor prompt = scope.of(randomPrompt(4, model.dim(), 7), 4, model.dim());
            int[] fed = {BOS, 461, 401, 378, 455, 473, 456, 435, 299, 362, 409, 283};
            try (Decoder cached = new CachedDecoder(model, prompt, 64);
                 Decoder full = new RecomputingDecoder(model, prompt)) {
                // the first step feeds three tokens at once, then one at a time
                float[] a = cached.feed(fed[0], fed[1], fed[2]);
                float[] b = full.feed(fed[0], fed[1], fed[2]);
                Compare.assertClose(b, a, 1e-5, "logits after the prompt and 3 tokens");
                for (int t = 3; t < fed.length; t++) {
                    a = cached.feed(fed[t]);
                    b = full.feed(fed[t]);
                    Compare.assertClose(b, a, 1e-5, "logits after token " + t);
                    assertEquals(full.length(), cached.length());
                }
                assertEquals(4 + fed.length, cached.length());
            }
            // and generation through both decoders gives the same ids, which the prompt changes
            try (Decoder cached = new CachedDecoder(model, prompt);
                 Decoder full = new RecomputingDecoder(model, prompt);
                 Decoder plain = new CachedDecoder(model, null)) {
                GenerationSettings settings = GenerationSettings.greedy(24);
                int[] withCache = Generator.generate(cached, new int[] {BOS}, settings, null).tokens();
                int[] recomputed = Generator.generate(full, new int[] {BOS}, settings, null).tokens();
                int[] withoutPrompt = Generator.generate(plain, new int[] {BOS}, settings, null).tokens();
                assertArrayEquals(recomputed, withCache);
                assertNotEquals(java.util.Arrays.toString(withoutPrompt), java.util.Arrays.toString(withCache),
                        "a soft prompt of norm ~1 per row should change what the model says");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void softPromptAloneStartsTheSequence(TestBackends.Named named) {
        try (Backend backend = named.open();
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
             Scope scope = new Scope(backend, "prompt")) {
            Tensor prompt = scope.of(randomPrompt(3, model.dim(), 11), 3, model.dim());
            try (Decoder cached = new CachedDecoder(model, prompt);
                 Decoder full = new RecomputingDecoder(model, prompt)) {
                Compare.assertClose(full.feed(), cached.feed(), 1e-5, "logits after the prompt rows alone");
                assertEquals(3, cached.length());
                Compare.assertClose(full.feed(BOS, 461), cached.feed(BOS, 461), 1e-5, "logits after two more tokens");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void sampledGenerationDependsOnlyOnTheSeed(TestBackends.Named named) {
        try (Backend backend = named.open();
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend)) {
            SamplingSettings sampling = SamplingSettings.sample(1.0, 42)
                    .withTopK(40).withTopP(0.9).withRepetitionPenalty(1.3);
            GenerationSettings settings = new GenerationSettings(32, sampling, new int[] {BOS});
            int[] first = generate(model, settings);
            int[] again = generate(model, settings);
            int[] otherSeed = generate(model, new GenerationSettings(32, sampling.withSeed(43), new int[] {BOS}));
            assertArrayEquals(first, again);
            assertNotEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(otherSeed));
        }
    }

    private static int[] generate(Llama model, GenerationSettings settings) {
        try (Decoder decoder = new CachedDecoder(model, null)) {
            return Generator.generate(decoder, new int[] {BOS}, settings, null).tokens();
        }
    }

    static float[] randomPrompt(int rows, int dim, long seed) {
        Random random = new Random(seed);
        float[] values = new float[rows * dim];
        for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextGaussian() * 0.5);
        return values;
    }
}
