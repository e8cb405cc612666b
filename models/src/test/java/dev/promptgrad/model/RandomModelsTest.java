package dev.promptgrad.model;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.CountingBackend;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.testing.TestBackends;
import dev.promptgrad.train.CausalLmObjective;
import dev.promptgrad.train.TrainingStep;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random models and batches as {@code promptgrad bench step} uses them: the initialisation's statistics, labels on
 * the last tokens, and training steps on small random GPT-2 and Llama models that lower the loss, leave the frozen
 * weights alone and, after the first step, ask the backend for no memory.
 */
class RandomModelsTest {

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> Stream.of("gpt2", "llama").map(arch -> Arguments.of(arch, b)));
    }

    private static LanguageModel model(String arch, Backend backend, int vocab, int dim) {
        return arch.equals("gpt2")
                ? RandomModels.gpt2(new Gpt2Config(vocab, 32, dim, 2, 4, 40, 1e-5, UnaryOp.GELU_TANH, true), backend, 5)
                : RandomModels.llama(new LlamaConfig("llama", vocab, 32, dim, 40, 2, 4, 2, 4, 1e-5, 10000,
                RopeLayout.ROTATE_HALF, false, false, false, false), backend, 5);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void stepsLowerTheLossMoveOnlyThePromptAndAllocateNothingAfterTheFirst(String arch, TestBackends.Named named) {
        int vocab = 61, dim = 16, promptRows = 3;
        try (CountingBackend backend = new CountingBackend(named.open());
             LanguageModel model = model(arch, backend, vocab, dim);
             TrainingStep step = new TrainingStep(model, promptRows)) {
            List<CausalLmObjective.Batch> batches = List.of(new CausalLmObjective.Batch(model,
                    RandomModels.batch(2, 7, vocab, 3, 9), promptRows));
            float[] weightsBefore = backend.download(model.embeddingTable());
            float[] prompt = new float[promptRows * dim];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (float) Math.sin(i);
            float[] initial = prompt.clone();
            Adam adamw = new Adam(List.of(Parameter.of("prompt_embeddings", promptRows, dim)), Adam.Settings.ADAMW);
            double first = step.run(prompt, batches, adamw, 0.05, 0).loss();
            step.run(prompt, batches, adamw, 0.05, 0);
            long allocations = backend.calls("allocate");
            double last = first;
            for (int s = 0; s < 8; s++) last = step.run(prompt, batches, adamw, 0.05, 0).loss();
            assertEquals(allocations, backend.calls("allocate"), "steps after the second allocate nothing");
            assertTrue(last < first - 1e-3, arch + ": the loss falls from " + first + ", got " + last);
            assertTrue(!Arrays.equals(initial, prompt), "the prompt moved");
            assertArrayEquals(weightsBefore, backend.download(model.embeddingTable()), "weights are frozen");
        }
    }

    @Test
    void weightsFollowHuggingFacesInitialisation() {
        try (Backend backend = TestBackends.all().findFirst().orElseThrow().open();
             LanguageModel model = model("gpt2", backend, 500, 64)) {
            float[] table = backend.download(model.embeddingTable());
            double sum = 0, squares = 0;
            for (float v : table) {
                sum += v;
                squares += (double) v * v;
            }
            double mean = sum / table.length, std = Math.sqrt(squares / table.length - mean * mean);
            assertEquals(0, mean, 0.002, "mean of wte");
            assertEquals(RandomModels.STD, std, 0.001, "standard deviation of wte");
            float[] gain = backend.download(model.weights().get("h.0.ln_1.weight"));
            float[] bias = backend.download(model.weights().get("h.1.mlp.c_fc.bias"));
            for (float g : gain) assertEquals(1f, g);
            for (float b : bias) assertEquals(0f, b);
        }
    }

    @Test
    void randomBatchesLabelTheLastTokensWithTheirOwnIds() {
        TokenBatch batch = RandomModels.batch(3, 5, 11, 2, 4);
        int[] ids = batch.ids(), labels = batch.labels();
        for (int i = 0; i < ids.length; i++) {
            assertTrue(ids[i] >= 0 && ids[i] < 11, "id in the vocabulary");
            assertEquals(i % 5 >= 3 ? ids[i] : CrossEntropy.IGNORE, labels[i], "label " + i);
        }
        assertNull(batch.attentionMask(), "no padding");
    }
}
