package dev.promptgrad.generate;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Mixed-prompt batches: rows with different soft prompts (or none), inputs, sampling settings and stop tokens,
 * decoded together, give each row exactly what it gets alone — token ids on stories260K, logits at 1e-5 on the
 * fixture models on the reference backend — including rows that stop early or fill the context.
 */
class BatchGeneratorTest {
    private static final int BOS = 1;

    @Test
    void stories260KBatchOfThreeSoftPromptsAndOneWithoutEqualsEachAlone() {
        try (Backend backend = new CpuBackend(new CpuBackend.Options(2, 1));
             LanguageModel model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
             Scope scope = new Scope(backend, "prompts")) {
            int dim = model.dim();
            Tensor a = scope.of(Stories260KTest.randomPrompt(2, dim, 21), 2, dim);
            Tensor b = scope.of(Stories260KTest.randomPrompt(5, dim, 22), 5, dim);
            Tensor c = scope.of(Stories260KTest.randomPrompt(3, dim, 23), 3, dim);
            int[] stop = {BOS};
            List<BatchRequest> requests = List.of(
                    new BatchRequest(a, new int[] {BOS, 461, 401}, GenerationSettings.greedy(24, stop)),
                    new BatchRequest(null, new int[] {BOS}, GenerationSettings.greedy(30, stop)),
                    new BatchRequest(b, new int[] {BOS, 378, 455, 473, 456, 435}, GenerationSettings.greedy(12, stop)),
                    new BatchRequest(c, new int[0], new GenerationSettings(20, SamplingSettings.sample(0.8, 5), stop)));
            List<Generation> together = BatchGenerator.generate(model, requests);
            assertEquals(requests.size(), together.size());
            for (int i = 0; i < requests.size(); i++) {
                BatchRequest request = requests.get(i);
                Generation alone;
                try (Decoder decoder = new CachedDecoder(model, request.prompt())) {
                    alone = Generator.generate(decoder, request.inputIds(), request.settings(), null);
                }
                assertEquals(alone, together.get(i), "request " + i);
                assertTrue(alone.tokens().length > 0, "request " + i + " generated something");
            }
            assertEquals(Arrays.stream(new int[] {461, 461, 401, 401, 401}).boxed().toList(),
                    Arrays.stream(Arrays.copyOf(together.get(1).tokens(), 5)).boxed().toList(),
                    "the row without a prompt is run.c's greedy reference");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3"})
    void batchLogitsEqualEachSequenceDecodedAloneOnTheReferenceBackend(String fixture) {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(fixture), backend);
             Scope scope = new Scope(backend, "prompts")) {
            int dim = model.dim();
            List<Tensor> prompts = new ArrayList<>();
            prompts.add(scope.of(Stories260KTest.randomPrompt(3, dim, 1), 3, dim));
            prompts.add(null);
            prompts.add(scope.of(Stories260KTest.randomPrompt(1, dim, 2), 1, dim));
            int[][] starts = {{5, 6}, {7, 8, 9, 10, 11, 12}, {}};
            int[][] fed = {{13, 14, 15, 16}, {17, 18, 0, 0}, {19, 20, 21, 0}};   // 0: that row has finished
            boolean[][] active = {{true, true, true, true}, {true, true, false, false}, {true, true, true, false}};
            try (BatchDecoder batch = new BatchDecoder(model, prompts, 8 + 4)) {
                float[][] first = batch.start(starts);
                List<Decoder> alone = new ArrayList<>();
                try {
                    for (int r = 0; r < 3; r++) {
                        Decoder decoder = new CachedDecoder(model, prompts.get(r), 16);
                        alone.add(decoder);
                        Compare.assertClose(decoder.feed(starts[r]), first[r], 1e-5, fixture + " row " + r + " start");
                    }
                    for (int s = 0; s < 4; s++) {
                        int[] tokens = new int[3];
                        boolean[] on = new boolean[3];
                        for (int r = 0; r < 3; r++) {
                            tokens[r] = fed[r][s];
                            on[r] = active[r][s];
                        }
                        float[][] logits = batch.step(tokens, on);
                        for (int r = 0; r < 3; r++) {
                            if (!on[r]) continue;
                            Compare.assertClose(alone.get(r).feed(tokens[r]), logits[r], 1e-5,
                                    fixture + " row " + r + " step " + s);
                            assertEquals(alone.get(r).length(), batch.length(r), "row " + r + " positions");
                        }
                    }
                } finally {
                    for (Decoder decoder : alone) decoder.close();
                }
                assertEquals(10, batch.columns(), "6 columns for the longest start, then 4 steps");
            }
        }
    }

    @Test
    void rowsStopOnTheirOwnAtTheirLimitsAndAtTheContext() {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("llama-tiny"), backend);
             Scope scope = new Scope(backend, "prompts")) {
            int dim = model.dim();
            int context = model.contextLength();
            Tensor prompt = scope.of(Stories260KTest.randomPrompt(4, dim, 9), 4, dim);
            int[] longStart = new int[context - 4 - 3];
            Arrays.fill(longStart, 7);
            List<BatchRequest> requests = List.of(
                    new BatchRequest(prompt, longStart, GenerationSettings.greedy(50)),           // fills the context
                    new BatchRequest(null, new int[] {3}, GenerationSettings.greedy(2)),          // stops at 2 tokens
                    new BatchRequest(null, new int[] {3, 4, 5}, new GenerationSettings(40, SamplingSettings.sample(1.5, 3),
                            new int[] {2})));
            List<Generation> together = BatchGenerator.generate(model, requests);
            for (int i = 0; i < requests.size(); i++) {
                Generation alone;
                try (Decoder decoder = new CachedDecoder(model, requests.get(i).prompt())) {
                    alone = Generator.generate(decoder, requests.get(i).inputIds(), requests.get(i).settings(), null);
                }
                assertEquals(alone, together.get(i), "request " + i);
            }
            assertEquals(Generation.Reason.CONTEXT_FULL, together.get(0).reason());
            assertEquals(4, together.get(0).tokens().length, "3 free positions, then one token that is not fed");
            assertEquals(Generation.Reason.MAX_TOKENS, together.get(1).reason());
        }
    }

    @Test
    void badRequestsAreRefused() {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend)) {
            IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                    () -> new BatchRequest(null, new int[0], GenerationSettings.greedy(3)));
            assertMentions(empty, "a soft prompt or at least one input id");
            int[] tooLong = new int[model.contextLength() + 1];
            IllegalArgumentException context = assertThrows(IllegalArgumentException.class,
                    () -> BatchGenerator.generate(model, List.of(new BatchRequest(null, new int[] {1},
                            GenerationSettings.greedy(3)), new BatchRequest(null, tooLong, GenerationSettings.greedy(3)))));
            assertMentions(context, "request 1 starts with " + tooLong.length + " positions", "context of "
                    + model.contextLength());
            IllegalArgumentException vocabulary = assertThrows(IllegalArgumentException.class,
                    () -> BatchGenerator.generate(model, List.of(new BatchRequest(null, new int[] {model.vocabSize()},
                            GenerationSettings.greedy(3)))));
            assertMentions(vocabulary, "sequence 0: token id " + model.vocabSize() + " is outside");
            assertEquals(model.weights().bytes(), backend.liveBytes(), "a refused batch frees what it took");
        }
    }
}
