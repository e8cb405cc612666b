package dev.promptgrad.hard;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shared objective on gpt2-tiny: its gradient dL/dE_rows and the one-hot gradient built from it equal PyTorch's
 * (tools/hard_prompt_fixtures.py), the one-hot gradient is the slope of the loss along a swap's embedding path
 * (central differences), and the batched forward-only losses equal each prompt's own loss however the rows are
 * cut into forwards.
 */
class PromptObjectiveTest {
    private static final Path FIXTURE = Fixtures.folder("gpt2-tiny").resolveSibling("hard-prompt")
            .resolve("gpt2-tiny-one-hot.json");

    @ParameterizedTest
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void gradientsAndLossesMatchPyTorch(TestBackends.Named named) {
        JsonObject golden = Json.parseObjectFile(FIXTURE, JsonLimits.upTo(1 << 20));
        List<Example> examples = examples(golden);
        int[] prompt = golden.requireInts("prompt");
        PromptPlacement placement = new PromptPlacement(OptionalInt.of(golden.requireInt("bos")));
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
             PromptObjective objective = new PromptObjective(model, placement, 0, PromptObjective.DEFAULT_MEMORY_BUDGET);
             VocabularyIndex index = new VocabularyIndex(backend, model.embeddingTable(),
                     CandidateFilter.build(model.vocabSize(), null, Set.of(), CandidateFilter.Settings.DEFAULT))) {
            TokenBatch batch = RightPadding.batch(objective.prompted(prompt, examples), 0);
            assertArrayEquals(matrix(golden, "input_ids"), batch.ids(), "the prompt is inserted after BOS, or first");
            assertArrayEquals(matrix(golden, "attention_mask"), batch.attentionMask());
            assertArrayEquals(matrix(golden, "labels"), batch.labels());

            PromptObjective.Gradient gradient = objective.gradient(prompt, examples);
            assertEquals(golden.requireDouble("loss"), gradient.loss(), 1e-5);
            Compare.assertClose(matrixFloats(golden, "prompt_rows_grad"), gradient.dPromptRows(), 1e-5, "dL/dE_rows");
            float[] oneHot = index.oneHotGradient(gradient.dPromptRows(), prompt.length);
            Compare.assertClose(matrixFloats(golden, "one_hot_grad"), oneHot, 1e-5, "dL/d(one-hot)");

            List<int[]> swaps = swaps(golden, prompt);
            double[] expected = golden.requireDoubles("swap_losses");
            double[] oneForward = objective.losses(swaps, examples);
            try (PromptObjective rowByRow = new PromptObjective(model, placement, 0, 1)) {
                assertEquals(1, rowByRow.rowsPerForward(12));
                double[] oneRowAtATime = rowByRow.losses(swaps, examples);
                assertEquals(swaps.size() * examples.size(), rowByRow.forwards(), "one forward per (prompt, example) row");
                for (int s = 0; s < swaps.size(); s++) {
                    assertEquals(expected[s], oneForward[s], 1e-5, "swap " + s);
                    assertEquals(oneForward[s], oneRowAtATime[s], 1e-6, "swap " + s + " scored row by row");
                }
            }
        }
    }

    @Test
    void batchedLossesEqualEachPromptsOwnLoss() {
        JsonObject golden = Json.parseObjectFile(FIXTURE, JsonLimits.upTo(1 << 20));
        List<Example> examples = examples(golden);
        PromptPlacement placement = new PromptPlacement(OptionalInt.of(golden.requireInt("bos")));
        List<int[]> prompts = List.of(new int[] {1, 2}, new int[] {59, 3}, new int[] {8, 8}, new int[] {30, 2},
                new int[] {11, 44});
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
             PromptObjective objective = new PromptObjective(model, placement, 0, PromptObjective.DEFAULT_MEMORY_BUDGET);
             Workspace workspace = new Workspace(backend, "brute force")) {
            int rows = prompts.size() * examples.size();
            assertTrue(objective.rowsPerForward(9) >= rows, "the default budget fits all 15 rows in one forward");
            double[] losses = objective.losses(prompts, examples);
            assertEquals(1, objective.forwards());
            Tape tape = new Tape(backend, workspace);
            for (int p = 0; p < prompts.size(); p++) {
                tape.reset();
                TokenBatch own = RightPadding.batch(objective.prompted(prompts.get(p), examples), 0);
                double expected = backend.downloadDouble(model.loss(tape, own, null).value())[0];
                assertEquals(expected, losses[p], 1e-6, "prompt " + p);
            }
            tape.reset();
            double none = backend.downloadDouble(model.loss(tape, RightPadding.batch(examples, 0), null).value())[0];
            assertEquals(none, objective.loss(new int[0], examples), 1e-6, "no prompt");
        }
    }

    @Test
    void theOneHotGradientIsTheSlopeAlongASwapsEmbeddingPath() {
        JsonObject golden = Json.parseObjectFile(FIXTURE, JsonLimits.upTo(1 << 20));
        List<Example> examples = examples(golden);
        int[] prompt = golden.requireInts("prompt");
        PromptPlacement placement = new PromptPlacement(OptionalInt.of(golden.requireInt("bos")));
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
             PromptObjective objective = new PromptObjective(model, placement, 0, PromptObjective.DEFAULT_MEMORY_BUDGET);
             VocabularyIndex index = new VocabularyIndex(backend, model.embeddingTable(),
                     CandidateFilter.build(model.vocabSize(), null, Set.of(), CandidateFilter.Settings.DEFAULT));
             Workspace workspace = new Workspace(backend, "path")) {
            int vocab = model.vocabSize(), dim = model.dim();
            float[] table = backend.download(model.embeddingTable());
            float[] oneHot = index.oneHotGradient(objective.gradient(prompt, examples).dPromptRows(), prompt.length);
            double h = 1e-2;
            int[][] swaps = {{0, 3}, {1, 50}, {2, 12}, {3, 59}, {0, 44}, {3, 1}};
            for (int[] swap : swaps) {
                int position = swap[0], token = swap[1];
                float[] direction = new float[dim];    // e_new − e_old
                for (int c = 0; c < dim; c++) {
                    direction[c] = table[token * dim + c] - table[prompt[position] * dim + c];
                }
                double plus = lossAlongPath(model, workspace, objective, placement, examples, prompt, position, direction, h);
                double minus = lossAlongPath(model, workspace, objective, placement, examples, prompt, position, direction,
                        -h);
                double numeric = (plus - minus) / (2 * h);
                double analytic = oneHot[position * vocab + token] - oneHot[position * vocab + prompt[position]];
                assertEquals(analytic, numeric, 5e-4,
                        "swap of position " + position + " to token " + token);
            }
        }
    }

    @Test
    void badPromptsAreClearErrors() {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
             PromptObjective objective = new PromptObjective(model, PromptPlacement.FIRST, 0, 1 << 20)) {
            List<Example> examples = List.of(Example.everyToken(new int[] {4, 5, 6}));
            assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> objective.losses(List.of(new int[] {61}), examples)), "61", "vocabulary [0, 61)");
            assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> objective.losses(List.of(new int[30]), examples)), "33 tokens", "32 positions");
            assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> objective.gradient(new int[0], examples)), "at least one token");
        }
    }

    /** The loss with row {@code position} of the prompt at e_old + t · direction, all else as the tokens give. */
    private static double lossAlongPath(LanguageModel model, Workspace workspace, PromptObjective objective,
                                        PromptPlacement placement, List<Example> examples, int[] prompt, int position,
                                        float[] direction, double t) {
        Backend backend = model.backend();
        int dim = model.dim();
        TokenBatch batch = RightPadding.batch(objective.prompted(prompt, examples), 0);
        int size = batch.size(), width = batch.length();
        float[] table = backend.download(model.embeddingTable());
        int[] ids = batch.ids();
        float[] inputs = new float[size * width * dim];                                        // (batch, T, dim)
        for (int i = 0; i < ids.length; i++) System.arraycopy(table, ids[i] * dim, inputs, i * dim, dim);
        for (int b = 0; b < size; b++) {
            int row = b * width + placement.offset(examples.get(b).inputIds()) + position;
            for (int c = 0; c < dim; c++) inputs[row * dim + c] += (float) (t * direction[c]);
        }
        workspace.reset();
        Tape tape = new Tape(backend, workspace);
        Tensor x = tape.allocate(size, width, dim);
        backend.upload(inputs, x);
        int[] mask = batch.attentionMask();
        Tensor keyMask = tape.allocate(size, width);
        float[] maskValues = new float[mask.length];
        for (int i = 0; i < mask.length; i++) maskValues[i] = mask[i];
        backend.upload(maskValues, keyMask);
        Variable logits = model.forward(tape, tape.constant(x, "inputs"), keyMask, null, null);
        Variable loss = CrossEntropy.apply(tape, logits, batch.nextTokenTargets(0));
        double value = backend.downloadDouble(loss.value())[0];
        workspace.reset();
        return value;
    }

    private static List<Example> examples(JsonObject golden) {
        List<Example> examples = new ArrayList<>();
        for (Object entry : golden.requireArray("examples")) {
            JsonObject example = JsonObject.of(entry, FIXTURE.toString());
            examples.add(new Example(example.requireInts("input_ids"), example.requireInts("labels")));
        }
        return examples;
    }

    private static List<int[]> swaps(JsonObject golden, int[] prompt) {
        List<int[]> swapped = new ArrayList<>();
        for (Object entry : golden.requireArray("swaps")) {
            List<?> pair = (List<?>) entry;
            int[] ids = prompt.clone();
            ids[((Number) pair.get(0)).intValue()] = ((Number) pair.get(1)).intValue();
            swapped.add(ids);
        }
        return swapped;
    }

    private static int[] matrix(JsonObject golden, String key) {
        List<Object> rows = golden.requireArray(key);
        List<Integer> flat = new ArrayList<>();
        for (Object row : rows) for (Object value : (List<?>) row) flat.add(((Number) value).intValue());
        return flat.stream().mapToInt(Integer::intValue).toArray();
    }

    private static float[] matrixFloats(JsonObject golden, String key) {
        List<Object> rows = golden.requireArray(key);
        List<Float> flat = new ArrayList<>();
        for (Object row : rows) for (Object value : (List<?>) row) flat.add(((Number) value).floatValue());
        float[] out = new float[flat.size()];
        for (int i = 0; i < out.length; i++) out[i] = flat.get(i);
        return out;
    }
}
