package dev.promptgrad.train;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Ten steps of {@link PromptTrainer} on each tiny golden model follow PyTorch's prompt trajectory, for AdamW
 * (torch.optim.AdamW) and for Lester et al.'s Adafactor (Hugging Face's algorithm): the loss before each step and
 * the prompt after it, from the fixture adapter's prompt, on the whole batch every step. The fixture adapter
 * itself, written as PEFT writes one, gives the golden loss.
 */
class GoldenTrajectoryTest {

    @TempDir
    Path folder;

    static Stream<Arguments> cases() {
        return Stream.of("gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3").flatMap(fixture -> Stream.of(
                Arguments.of(fixture, TrainingConfig.OptimizerKind.ADAMW, "trajectory"),
                Arguments.of(fixture, TrainingConfig.OptimizerKind.ADAFACTOR, "trajectory_adafactor")));
    }

    /** The adapter folder the fixture script writes as PEFT does loads, and gives PyTorch's loss. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3"})
    void fixtureAdapterGivesTheGoldenLoss(String fixture) {
        PeftAdapter adapter = PeftAdapter.read(GoldenExamples.adapter(fixture));
        float[] loss = GoldenExamples.tensor(fixture, "loss");
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(fixture), backend);
             TrainingStep step = new TrainingStep(model, adapter.virtualTokens())) {
            adapter.requireWidth(model.dim(), fixture);
            TokenBatch batch = RightPadding.batch(GoldenExamples.of(fixture), 0);
            CausalLmObjective.Batch scored = new CausalLmObjective.Batch(model, batch, adapter.virtualTokens());
            assertEquals(loss[0], step.evaluate(adapter.embeddings(), List.of(scored)), 1e-6 * loss[0], fixture);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void tenStepsFollowPyTorch(String fixture, TrainingConfig.OptimizerKind optimizer, String tensors) {
        float[] expectedLosses = GoldenExamples.tensor(fixture, tensors + "_losses");
        float[] expectedPrompts = GoldenExamples.tensor(fixture, tensors + "_prompts");
        TrainingConfig config = TrainingConfig.builder(fixture).virtualTokens(5)
                .init(TrainingConfig.Init.adapter(GoldenExamples.adapter(fixture))).optimizer(optimizer)
                .batch(3).steps(10).clip(0).build();
        List<TrainingListener.StepReport> reports = new ArrayList<>();
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(fixture), backend)) {
            TrainingData data = TrainingData.of(GoldenExamples.of(fixture), List.of());
            PromptInit.Initial initial = InitialPrompt.of(config, model, null, BosEosRule.NONE, data);
            PromptTrainer trainer = new PromptTrainer(model, data, config, 0, new TrainingListener() {
                @Override
                public void stepDone(StepReport report) {
                    reports.add(report);
                }
            });
            TrainingResult result = trainer.train(folder.resolve("run"), initial, new AtomicBoolean());
            assertEquals(Checkpoint.Status.FINISHED, result.status());
        }
        assertEquals(10, reports.size());
        // Adafactor's steps are RMS-normalised at lr 0.3, so float32 rounding differences (summation order)
        // grow faster along its trajectory than along AdamW's (tools/README.md, Tolerances).
        double tolerance = optimizer == TrainingConfig.OptimizerKind.ADAMW ? 1e-5 : 1e-4;
        int size = expectedPrompts.length / 10;
        for (int s = 0; s < 10; s++) {
            TrainingListener.StepReport report = reports.get(s);
            assertEquals(expectedLosses[s], report.loss(), tolerance * Math.abs(expectedLosses[s]),
                    fixture + " " + optimizer + ": loss before step " + s);
            float[] expected = Arrays.copyOfRange(expectedPrompts, s * size, (s + 1) * size);
            Compare.assertClose(expected, report.prompt(), tolerance,
                    fixture + " " + optimizer + " prompt after step " + s);
        }
        assertTrue(expectedLosses[9] < expectedLosses[0] - 0.1, "the fixture's trajectory must go somewhere");
    }
}
