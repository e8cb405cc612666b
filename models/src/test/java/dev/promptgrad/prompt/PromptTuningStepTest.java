package dev.promptgrad.prompt;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.LlamaConfig;
import dev.promptgrad.model.RandomModels;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The repeated training step on small random models: the loss falls, the prompt moves, the frozen weights do not,
 * and after the first step the workspace asks the backend for no memory.
 */
class PromptTuningStepTest {

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> Stream.of("gpt2", "llama").map(arch -> Arguments.of(arch, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void stepsLowerTheLossMoveOnlyThePromptAndAllocateNothingAfterTheFirst(String arch, TestBackends.Named named) {
        int vocab = 61, dim = 16, promptRows = 3;
        try (Backend backend = named.open();
             LanguageModel model = arch.equals("gpt2")
                     ? RandomModels.gpt2(new Gpt2Config(vocab, 32, dim, 2, 4, 40, 1e-5, UnaryOp.GELU_TANH, true),
                     backend, 5)
                     : RandomModels.llama(new LlamaConfig("llama", vocab, 32, dim, 40, 2, 4, 2, 4, 1e-5, 10000,
                     RopeLayout.ROTATE_HALF, false, false, false, false), backend, 5)) {
            TokenBatch batch = RandomModels.batch(2, 7, vocab, 3, 9);
            float[] weightsBefore = backend.download(model.embeddingTable());
            float[] initial = new float[promptRows * dim];
            for (int i = 0; i < initial.length; i++) initial[i] = (float) Math.sin(i);
            try (PromptTuningStep step = new PromptTuningStep(model, batch, initial, 0.05)) {
                double first = step.run();
                step.run();
                long allocations = step.workspace().allocations();
                double last = first;
                for (int s = 0; s < 8; s++) last = step.run();
                assertEquals(allocations, step.workspace().allocations(), "steps after the second allocate nothing");
                assertTrue(last < first - 1e-3, arch + ": the loss falls from " + first + ", got " + last);
                assertFalse(Arrays.equals(initial, step.prompt()), "the prompt moved");
            }
            assertTrue(Arrays.equals(weightsBefore, backend.download(model.embeddingTable())), "weights are frozen");
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
        assertEquals(null, batch.attentionMask(), "no padding");
    }
}
