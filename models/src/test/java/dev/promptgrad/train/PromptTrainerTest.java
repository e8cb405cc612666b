package dev.promptgrad.train;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.Example;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.Messages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training loop's promises on gpt2-tiny: the same seed gives the same bytes on the multi-threaded CPU
 * backend; accumulating micro-batches equals one big batch; early stopping keeps the best prompt; the files of
 * the output folder and their order of lines; and the refusals of a run that cannot start.
 */
class PromptTrainerTest {

    @TempDir
    Path folder;

    @Test
    void sameSeedGivesTheSameBytesOnTheCpuBackend() {
        TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAMW).build();
        TrainingData data = TinyRuns.data();
        byte[][] runs = new byte[3][];
        for (int r = 0; r < 3; r++) {
            TrainingConfig runConfig = r < 2 ? config : config.toBuilder().seed(12).build();
            Path out = folder.resolve("run" + r);
            TinyRuns.Outcome outcome = TinyRuns.run(() -> new CpuBackend(new CpuBackend.Options(2, 2)), runConfig, data,
                    out, null, 0, Checkpoint.FileObserver.NONE);
            assertEquals(Checkpoint.Status.FINISHED, outcome.result().status());
            runs[r] = TinyRuns.bytes(out.resolve(PeftAdapter.WEIGHTS_FILE));
        }
        assertArrayEquals(runs[0], runs[1], "two runs with seed 11");
        assertFalse(Arrays.equals(runs[0], runs[2]), "another seed draws another start and order");
    }

    @Test
    void accumulatedMicroBatchesEqualOneBigBatch() {
        TrainingData data = TinyRuns.data();
        List<List<TrainingListener.StepReport>> runs = new ArrayList<>();
        int[][] shapes = {{4, 1}, {2, 2}, {1, 4}};
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(TinyRuns.MODEL), backend)) {
            for (int[] shape : shapes) {
                TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAMW).batch(shape[0])
                        .gradAccum(shape[1]).steps(6).evalEvery(100).build();
                List<TrainingListener.StepReport> reports = new ArrayList<>();
                PromptTrainer trainer = new PromptTrainer(model, data, config, 0, new TrainingListener() {
                    @Override
                    public void stepDone(StepReport report) {
                        reports.add(report);
                    }
                });
                PromptInit.Initial initial = InitialPrompt.of(config, model, null, BosEosRule.NONE, data);
                trainer.train(folder.resolve("b" + shape[0]), initial, new AtomicBoolean());
                runs.add(reports);
            }
        }
        for (int r = 1; r < runs.size(); r++) {
            for (int s = 0; s < 6; s++) {
                TrainingListener.StepReport big = runs.get(0).get(s), small = runs.get(r).get(s);
                String what = "step " + (s + 1) + ", batch " + shapes[r][0];
                assertEquals(big.loss(), small.loss(), 1e-6 * big.loss(), "loss of " + what);
                assertEquals(big.gradNorm(), small.gradNorm(), 1e-5 * big.gradNorm(), "gradient norm of " + what);
                Compare.assertClose(big.prompt(), small.prompt(), 1e-6, "prompt after " + what);
            }
        }
    }

    @Test
    void earlyStoppingKeepsTheBestPrompt() {
        // training teaches "10 11" after the input; the held-out examples want "20 21" after the same input
        List<Example> train = List.of(new Example(new int[] {5, 6, 7, 10, 11}, new int[] {-100, -100, -100, 10, 11}));
        List<Example> eval = List.of(new Example(new int[] {5, 6, 7, 20, 21}, new int[] {-100, -100, -100, 20, 21}));
        TrainingConfig config = TrainingConfig.builder(TinyRuns.MODEL).virtualTokens(3).batch(1).steps(50).lr(0.1)
                .evalEvery(1).saveEvery(10).earlyStop(2).build();
        List<Double> evalLosses = new ArrayList<>();
        float[][] firstPrompt = new float[1][];
        TrainingResult result;
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(TinyRuns.MODEL), backend)) {
            TrainingData data = TrainingData.of(train, eval);
            firstPrompt[0] = InitialPrompt.of(config, model, null, BosEosRule.NONE, data).values();
            PromptTrainer trainer = new PromptTrainer(model, data, config, 0, new TrainingListener() {
                @Override
                public void evaluated(int step, double evalLoss, boolean best) {
                    evalLosses.add(evalLoss);
                    assertEquals(step == 0, best, "only the starting prompt is best, at step " + step);
                }
            });
            result = trainer.train(folder.resolve("run"), InitialPrompt.of(config, model, null, BosEosRule.NONE, data),
                    new AtomicBoolean());
        }
        assertEquals(Checkpoint.Status.EARLY_STOPPED, result.status());
        assertEquals(2, result.steps(), "two evaluations without improvement after step 0's");
        assertEquals(3, evalLosses.size());
        assertTrue(evalLosses.get(2) > evalLosses.get(1) && evalLosses.get(1) > evalLosses.get(0),
                evalLosses.toString());
        assertEquals(0, result.bestStep());
        assertEquals(evalLosses.get(0), result.bestEvalLoss());
        PeftAdapter best = PeftAdapter.read(folder.resolve("run").resolve(Checkpoint.BEST));
        assertArrayEquals(firstPrompt[0], best.embeddings());
    }

    @Test
    void outputFolderHoldsTheAdapterStateMetricsAndCurves() throws IOException {
        Path out = folder.resolve("run");
        TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAFACTOR).build();
        TrainingResult result = TinyRuns.run(config, TinyRuns.data(), out);
        try (var files = Files.list(out)) {
            assertEquals(List.of("adapter_config.json", "adapter_model.safetensors", "best", "checkpoint.json",
                    "loss_curve.png", "loss_curve.svg", "metrics.jsonl", "training_state.safetensors"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        PeftAdapter adapter = PeftAdapter.read(out);
        assertEquals(4, adapter.virtualTokens());
        String adapterConfig = Files.readString(out.resolve(PeftAdapter.CONFIG_FILE));
        assertTrue(adapterConfig.contains("\"prompt_tuning_init\": \"SAMPLE_VOCAB\""), adapterConfig);
        List<String> lines = Files.readAllLines(out.resolve(MetricsLog.FILE));
        assertEquals(11, lines.size(), "step 0 (evaluation only) and steps 1 to 10");
        assertTrue(lines.get(0).matches("\\{\"step\":0,\"epoch\":0\\.0,\"eval_loss\":[0-9.]+}"), lines.get(0));
        assertTrue(lines.get(3).matches("\\{\"step\":3,\"epoch\":1\\.0,\"loss\":[0-9.]+,\"lr\":[0-9.e-]+,"
                + "\"grad_norm\":[0-9.e-]+,\"tokens_per_s\":[0-9.e]+,\"eval_loss\":[0-9.]+}"), lines.get(3));
        assertTrue(lines.get(1).contains("\"lr\":0.0,"), "a warm-up starts at rate 0: " + lines.get(1));
        String marker = Files.readString(out.resolve(Checkpoint.MARKER));
        assertTrue(marker.contains("\"status\": \"finished\"") && marker.contains("\"step\": 10"), marker);
        assertTrue(marker.contains("\"best_step\": " + result.bestStep() + ","), marker);
        assertEquals(4, PeftAdapter.read(out.resolve(Checkpoint.BEST)).virtualTokens());
        String svg = Files.readString(out.resolve(LossCurve.SVG_FILE));
        assertTrue(svg.contains(">optimizer step</text>") && svg.contains("held-out loss")
                && svg.contains("<polyline"), svg);
        byte[] png = TinyRuns.bytes(out.resolve(LossCurve.PNG_FILE));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
    }

    @Test
    void refusesARunThatCannotStart() throws IOException {
        TrainingData data = TinyRuns.data();
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(TinyRuns.MODEL), backend)) {
            TrainingConfig noEval = TrainingConfig.builder(TinyRuns.MODEL).earlyStop(3).build();
            Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> new PromptTrainer(model, TrainingData.of(TinyRuns.examples(3, 1), List.of()), noEval, 0,
                            TrainingListener.NONE)), "--early-stop needs held-out data");
            Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> new PromptTrainer(model, data,
                            TrainingConfig.builder(TinyRuns.MODEL).virtualTokens(32).build(), 0,
                            TrainingListener.NONE)), "--virtual-tokens 32 leaves no room", "32 positions");
            Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> new PromptTrainer(model, data,
                            TrainingConfig.builder(TinyRuns.MODEL).maxLength(29).virtualTokens(4).build(), 0,
                            TrainingListener.NONE)), "--max-length 29 is more than the 28 tokens");
            TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAMW).build();
            PromptTrainer trainer = new PromptTrainer(model, data, config, 0, TrainingListener.NONE);
            Path used = Files.createDirectories(folder.resolve("used"));
            Files.writeString(used.resolve("notes.txt"), "mine");
            Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> trainer.train(used, InitialPrompt.of(config, model, null, BosEosRule.NONE, data),
                            new AtomicBoolean())),
                    "--out " + used + " is not empty", "--resume");
            Messages.assertMentions(assertThrows(TrainingStateException.class,
                    () -> trainer.resume(used, used, new AtomicBoolean())), "has no training_state.safetensors");
        }
    }
}
