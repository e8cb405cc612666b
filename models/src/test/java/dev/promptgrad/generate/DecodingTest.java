package dev.promptgrad.generate;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.model.KvCache;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Incremental decoding on the fixture models (GPT-2's learned positions, Llama's grouped-query attention
 * with head_dim ≠ dim/heads): the KV cache equals recomputation step by step with a soft prompt, a padded
 * batch decodes in chunks as in one pass, and the generation loop stops where it should.
 */
class DecodingTest {

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> Stream.of("gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3")
                .map(f -> Arguments.of(f, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void cacheEqualsRecomputationWithSoftPrompt(String fixture, TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture(fixture), backend);
             Scope scope = new Scope(backend, "prompt")) {
            Tensor prompt = scope.of(Stories260KTest.randomPrompt(5, model.dim(), 3), 5, model.dim());
            int[][] steps = {{3, 14, 15}, {9}, {26}, {5, 35}, {8}, {9}, {7}};
            long before = backend.liveBytes();
            try (Decoder cached = new CachedDecoder(model, prompt, 20);
                 Decoder full = new RecomputingDecoder(model, prompt)) {
                for (int[] step : steps) {
                    String what = fixture + " after " + (cached.length() + step.length) + " positions";
                    Compare.assertClose(full.feed(step), cached.feed(step), 1e-5, what);
                }
                assertEquals(5 + 10, cached.length());
                assertEquals(cached.length(), full.length());
            }
            assertEquals(before, backend.liveBytes(), "closing the decoders frees their cache and workspaces");
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void paddedBatchDecodesInChunksAsInOnePass(String fixture, TestBackends.Named named) {
        int[] ids = {3, 14, 15, 9, 26, 5, /* second sequence */ 35, 8, 9, 0, 0, 0};
        int[] mask = {1, 1, 1, 1, 1, 1, /* */ 1, 1, 1, 0, 0, 0};
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture(fixture), backend);
             Workspace workspace = new Workspace(backend, "decode");
             KvCache cache = model.newKvCache(2, 6)) {
            Tape tape = new Tape(backend, workspace);
            float[] whole = backend.download(model.logits(tape, new TokenBatch(2, 6, ids, mask, null), null).value());
            int vocab = model.vocabSize();
            int done = 0;
            for (int chunk : new int[] {4, 1, 1}) {
                tape.reset();
                int[] chunkIds = new int[2 * chunk];
                for (int b = 0; b < 2; b++) System.arraycopy(ids, b * 6 + done, chunkIds, b * chunk, chunk);
                Variable x = model.embed(tape, new TokenBatch(2, chunk, chunkIds, null, null), null);
                Tensor keyMask = tape.allocate(2, done + chunk);
                float[] visible = new float[2 * (done + chunk)];
                for (int b = 0; b < 2; b++) {
                    for (int k = 0; k < done + chunk; k++) visible[b * (done + chunk) + k] = mask[b * 6 + k];
                }
                backend.upload(visible, keyMask);
                Variable logits = model.forward(tape, x, keyMask, cache, null);                  // (2, chunk, vocab)
                float[] part = backend.download(logits.value());
                for (int b = 0; b < 2; b++) {
                    for (int t = 0; t < chunk; t++) {
                        if (mask[b * 6 + done + t] == 0) continue;   // pad rows: same value, not asserted
                        int row = b * 6 + done + t;
                        float[] expected = Arrays.copyOfRange(whole, row * vocab, (row + 1) * vocab);
                        float[] actual = Arrays.copyOfRange(part, (b * chunk + t) * vocab, (b * chunk + t + 1) * vocab);
                        String what = fixture + " sequence " + b + " position " + (done + t);
                        Compare.assertClose(expected, actual, 1e-5, what);
                    }
                }
                done += chunk;
            }
            assertEquals(6, cache.length());
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void generationStopsAtStopTokensAndCapacity(String fixture, TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture(fixture), backend)) {
            int[] start = {3, 14};
            List<Integer> seen = new ArrayList<>();
            Generation free;
            try (Decoder decoder = new CachedDecoder(model, null)) {
                free = Generator.generate(decoder, start, GenerationSettings.greedy(12), seen::add);
            }
            int[] tokens = free.tokens();
            assertEquals(12, tokens.length);
            assertEquals(Generation.Reason.MAX_TOKENS, free.reason());
            assertArrayEquals(tokens, seen.stream().mapToInt(Integer::intValue).toArray(), "onToken sees every token");

            int cut = 0;   // the last first occurrence of a token: stopping at it keeps everything before
            for (int i = 1; i < tokens.length; i++) if (!contains(tokens, i, tokens[i])) cut = i;
            try (Decoder decoder = new CachedDecoder(model, null)) {
                GenerationSettings settings = GenerationSettings.greedy(12, tokens[cut]);
                Generation stopped = Generator.generate(decoder, start, settings, null);
                assertEquals(Generation.Reason.STOP_TOKEN, stopped.reason());
                assertEquals(tokens[cut], stopped.stopToken());
                assertArrayEquals(Arrays.copyOf(tokens, cut), stopped.tokens());
            }

            try (Decoder decoder = new CachedDecoder(model, null, 6)) {
                Generation full = Generator.generate(decoder, start, GenerationSettings.greedy(12), null);
                assertEquals(Generation.Reason.CONTEXT_FULL, full.reason());
                assertArrayEquals(Arrays.copyOf(tokens, 5), full.tokens(), "positions 2..5 fed, the 5th token last");
            }
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void cacheRefusesGradientsAndOverflow(String fixture, TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture(fixture), backend);
             Workspace workspace = new Workspace(backend, "decode");
             Scope scope = new Scope(backend, "prompt");
             KvCache cache = model.newKvCache(1, 4)) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.parameter(scope.of(new float[2 * model.dim()], 2, model.dim()), "prompt");
            Variable x = model.embed(tape, TokenBatch.of(3, 4), prompt);
            IllegalArgumentException grad = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(tape, x, null, cache, null));
            assertMentions(grad, "stores only constants");
            assertEquals(0, cache.length());

            Variable five = model.embed(tape, TokenBatch.of(1, 2, 3, 4, 5), null);
            IllegalArgumentException overflow = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(tape, five, null, cache, null));
            assertMentions(overflow, "holds 4 positions; 0 are stored and 5 more do not fit");
            IllegalArgumentException context = assertThrows(IllegalArgumentException.class,
                    () -> model.newKvCache(1, 2 * model.contextLength() + 1));
            assertMentions(context, "exceeds twice the context length " + model.contextLength());
            int[] tooLong = new int[model.contextLength() + 1];
            IllegalArgumentException longInput = assertThrows(IllegalArgumentException.class,
                    () -> model.logits(tape, TokenBatch.of(tooLong), null));
            assertMentions(longInput, "exceed the context length of " + model.contextLength());
        }
    }

    private static boolean contains(int[] values, int before, int value) {
        for (int i = 0; i < before; i++) if (values[i] == value) return true;
        return false;
    }

    private static Path fixture(String name) {
        return Fixtures.folder(name);
    }
}
