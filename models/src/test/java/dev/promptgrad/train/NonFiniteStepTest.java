package dev.promptgrad.train;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.model.HiddenStateHook;
import dev.promptgrad.model.KvCache;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.optim.Optimizer;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.Messages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A step whose loss or gradient is not finite changes nothing: it is skipped with a warning and a
 * {@code skipped} line in metrics.jsonl, or the run stops (--on-nonfinite stop, or --max-nonfinite such steps
 * in a row) with the last finite prompt saved, and no file the run writes ever holds a NaN. The non-finite
 * values are injected deterministically: the gpt2-tiny model is wrapped so that a batch holding token
 * {@link #NAN_LOSS} gets a NaN loss, and one holding {@link #NAN_GRADIENT} a NaN gradient (as an overflow in
 * the forward or backward pass would give); the examples holding them are placed at chosen steps of the
 * seeded shuffle. An update that would overflow the prompt is undone.
 */
class NonFiniteStepTest {
    private static final int NAN_LOSS = 60;
    private static final int NAN_GRADIENT = 59;
    private static final long SEED = 5;
    private static final int EXAMPLES = 8;

    @TempDir
    Path folder;

    /** What a run told its listener, and how it ended. */
    private record Run(TrainingResult result, RuntimeException failure, List<String> warnings,
                       Map<Integer, float[]> prompts) {
    }

    @Test
    void nonFiniteStepsAreSkippedWithAWarningAndLeaveThePromptAsItWas() throws IOException {
        TrainingConfig config = config().build();
        Path out = folder.resolve("run");
        Run run = train(config, data(new int[] {3}, new int[] {5}), out, null);

        assertNotNull(run.result(), () -> "the run must finish: " + run.failure());
        assertEquals(Checkpoint.Status.FINISHED, run.result().status());
        assertEquals(8, run.result().steps());
        assertEquals(2, run.warnings().size(), run.warnings().toString());
        assertTrue(run.warnings().get(0).startsWith("step 3: the loss is NaN; the prompt and the optimizer state were"
                + " not changed; the step is skipped (1 in a row; the run stops at 3)"), run.warnings().get(0));
        assertTrue(run.warnings().get(1).startsWith("step 5: the gradient norm is NaN at loss "),
                run.warnings().get(1));
        assertArrayEquals(run.prompts().get(2), run.prompts().get(3), "a skipped step leaves the prompt");
        assertArrayEquals(run.prompts().get(4), run.prompts().get(5), "a skipped step leaves the prompt");
        assertFalse(Arrays.equals(run.prompts().get(3), run.prompts().get(4)), "a finite step moves it");

        assertEquals(Map.of(3, "the loss is NaN", 5, "the gradient norm is NaN at loss "), skippedSteps(out, true));
        TrainingState state = TrainingState.read(out.resolve(TrainingState.FILE), config);
        assertEquals(6, state.optimizer.steps(), "the optimizer took the 6 finite steps only");
        assertEquals(2, state.skippedSteps());
        assertEquals(0, state.nonFiniteInARow);
        assertEquals(2, marker(out).requireInt("skipped_steps"));
        assertEverythingWrittenIsFinite(out);
    }

    @Test
    void maxNonFiniteInARowStopsWithTheLastFinitePromptSavedAndAResumeMayGoOn() throws IOException {
        TrainingConfig config = config().build();
        TrainingData data = data(new int[] {4, 5, 6}, new int[0]);
        Path out = folder.resolve("run");
        Run run = train(config, data, out, null);

        assertTrue(run.failure() instanceof IllegalStateException, String.valueOf(run.failure()));
        Messages.assertMentions(run.failure(), "step 6: the loss is NaN", "training diverged and stopped",
                "3 steps in a row were not finite (--max-nonfinite 3)", "the checkpoint of step 5 in " + out,
                "holds the last finite prompt", "--init adapter:" + out);
        assertEquals(List.of(4, 5), stepsOf(run.warnings()));
        JsonObject marker = marker(out);
        assertEquals("diverged", marker.requireString("status"));
        assertEquals(5, marker.requireInt("step"));
        assertTrue(Checkpoint.markerMatchesState(out));
        assertArrayEquals(run.prompts().get(3), PeftAdapter.read(out).embeddings(), "the prompt of step 3, the last"
                + " finite step");
        assertEquals(Map.of(4, "the loss is NaN", 5, "the loss is NaN"), skippedSteps(out, false));
        TrainingState state = TrainingState.read(out.resolve(TrainingState.FILE), config);
        assertEquals(5, state.step());
        assertEquals(3, state.optimizer.steps());
        assertEquals(2, state.nonFiniteInARow);
        assertEverythingWrittenIsFinite(out);

        Run resumed = train(config.toBuilder().maxNonFinite(4).build(), data, out, out);
        assertNotNull(resumed.result(), () -> "a resume with a higher limit goes on: " + resumed.failure());
        assertEquals(8, resumed.result().steps());
        assertEquals(List.of(6), stepsOf(resumed.warnings()));
        assertTrue(resumed.warnings().get(0).contains("(3 in a row; the run stops at 4)"), resumed.warnings().get(0));
        state = TrainingState.read(out.resolve(TrainingState.FILE), config);
        assertEquals(5, state.optimizer.steps());
        assertEquals(3, state.skippedSteps());
        assertEquals(Map.of(4, "the loss is NaN", 5, "the loss is NaN", 6, "the loss is NaN"),
                skippedSteps(out, false));
        assertEverythingWrittenIsFinite(out);
    }

    @Test
    void onNonFiniteStopStopsAtTheFirst() throws IOException {
        TrainingConfig config = config().onNonFinite(TrainingConfig.NonFiniteAction.STOP).build();
        Path out = folder.resolve("run");
        Run run = train(config, data(new int[0], new int[] {2}), out, null);

        Messages.assertMentions(run.failure(), "step 2: the gradient norm is NaN", "(--on-nonfinite stop)",
                "the checkpoint of step 1 in " + out);
        assertEquals(List.of(), run.warnings());
        assertEquals(1, marker(out).requireInt("step"));
        assertEquals("diverged", marker(out).requireString("status"));
        assertArrayEquals(run.prompts().get(1), PeftAdapter.read(out).embeddings());
        assertEquals(Map.of(), skippedSteps(out, false));
        assertEverythingWrittenIsFinite(out);
    }

    @Test
    void anUpdateThatWouldOverflowThePromptIsUndone() {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(TinyRuns.MODEL), backend);
             TrainingStep step = new TrainingStep(model, 4)) {
            float[] prompt = new float[4 * model.dim()];
            Random random = new Random(3);
            for (int i = 0; i < prompt.length; i++) prompt[i] = 1000 + random.nextFloat();
            float[] before = prompt.clone();
            Optimizer adamw = TrainingState.newOptimizer(TrainingConfig.OptimizerKind.ADAMW, 4, model.dim());
            Map<String, float[]> momentsBefore = adamw.state();
            List<CausalLmObjective.Batch> batch = List.of(new CausalLmObjective.Batch(model,
                    RightPadding.batch(TinyRuns.examples(2, 1), 0), 4));
            // AdamW first decays: 1000 · (1 - lr · 0.01) = -1e39, beyond float; the step then adds ±lr to it
            NonFiniteStepException e = assertThrows(NonFiniteStepException.class,
                    () -> step.run(prompt, batch, adamw, 1e38, 1.0));
            assertTrue(e.reason().matches("the update made prompt_embeddings\\[0] (NaN|-Infinity) at loss [0-9.]+ and"
                    + " gradient norm [0-9.]+"), e.reason());
            assertArrayEquals(before, prompt, "the prompt is restored");
            assertEquals(0, adamw.steps());
            for (Map.Entry<String, float[]> slot : adamw.state().entrySet()) {
                assertArrayEquals(momentsBefore.get(slot.getKey()), slot.getValue(), slot.getKey());
            }
            TrainingStep.Result result = step.run(prompt, batch, adamw, 0.01, 1.0);
            assertTrue(Double.isFinite(result.loss()));
            assertEquals(1, adamw.steps(), "a finite step after the undone one is the optimizer's first");
        }
    }

    private static TrainingConfig.Builder config() {
        return TrainingConfig.builder(TinyRuns.MODEL).virtualTokens(4).optimizer(TrainingConfig.OptimizerKind.ADAMW)
                .batch(1).steps(8).seed(SEED).evalEvery(4).saveEvery(2);
    }

    /**
     * {@value #EXAMPLES} training examples (one epoch of batch 1 is 8 steps) of ids below {@link #NAN_GRADIENT},
     * with the example of each step in {@code nanLossSteps} given the token {@link #NAN_LOSS} and of each step
     * in {@code nanGradientSteps} {@link #NAN_GRADIENT}, as their first (unscored) token; 3 held out.
     */
    private static TrainingData data(int[] nanLossSteps, int[] nanGradientSteps) {
        List<Example> train = new ArrayList<>(clean(EXAMPLES, 21));
        EpochShuffle order = new EpochShuffle(EXAMPLES, SEED, 0, 0);
        int[] exampleOfStep = new int[EXAMPLES + 1];
        for (int step = 1; step <= EXAMPLES; step++) exampleOfStep[step] = order.next();
        for (int step : nanLossSteps) {
            train.set(exampleOfStep[step], poisoned(train.get(exampleOfStep[step]), NAN_LOSS));
        }
        for (int step : nanGradientSteps) {
            train.set(exampleOfStep[step], poisoned(train.get(exampleOfStep[step]), NAN_GRADIENT));
        }
        return TrainingData.of(train, clean(3, 22));
    }

    private static List<Example> clean(int count, long seed) {
        List<Example> examples = new ArrayList<>();
        for (Example example : TinyRuns.examples(count, seed)) {
            int[] ids = example.inputIds().clone();
            int[] labels = example.labels().clone();
            for (int t = 0; t < ids.length; t++) {
                ids[t] = Math.min(ids[t], NAN_GRADIENT - 1);
                if (labels[t] != Example.IGNORE) labels[t] = ids[t];
            }
            examples.add(new Example(ids, labels));
        }
        return examples;
    }

    private static Example poisoned(Example example, int token) {
        int[] ids = example.inputIds().clone();
        ids[0] = token;
        return new Example(ids, example.labels().clone());
    }

    private Run train(TrainingConfig config, TrainingData data, Path out, Path resumeFrom) {
        List<String> warnings = new ArrayList<>();
        Map<Integer, float[]> prompts = new HashMap<>();
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = new Poisoned(HuggingFaceCheckpoint.load(Fixtures.folder(TinyRuns.MODEL), backend))) {
            PromptTrainer trainer = new PromptTrainer(model, data, config, 0, new TrainingListener() {
                @Override
                public void stepDone(StepReport report) {
                    prompts.put(report.step(), report.prompt());
                }

                @Override
                public void warning(String message) {
                    warnings.add(message);
                }
            });
            try {
                TrainingResult result = resumeFrom != null ? trainer.resume(resumeFrom, out, new AtomicBoolean())
                        : trainer.train(out, InitialPrompt.of(config, model, null, BosEosRule.NONE, data),
                        new AtomicBoolean());
                return new Run(result, null, warnings, prompts);
            } catch (RuntimeException e) {
                return new Run(null, e, warnings, prompts);
            }
        }
    }

    private static List<Integer> stepsOf(List<String> warnings) {
        List<Integer> steps = new ArrayList<>();
        for (String warning : warnings) steps.add(Integer.parseInt(warning.substring(5, warning.indexOf(':'))));
        return steps;
    }

    /** metrics.jsonl's skipped steps and their reasons (cut after "at loss " when {@code cutLoss}). */
    private static Map<Integer, String> skippedSteps(Path out, boolean cutLoss) {
        Map<Integer, String> skipped = new HashMap<>();
        for (MetricsLog.Entry entry : MetricsLog.read(out.resolve(MetricsLog.FILE), Integer.MAX_VALUE).entries()) {
            if (entry.skipped() == null) {
                if (entry.step() > 0) assertNotNull(entry.loss(), "step " + entry.step() + " has a loss");
                continue;
            }
            assertEquals(null, entry.loss(), "a skipped step has no loss");
            assertEquals(null, entry.gradNorm(), "a skipped step has no gradient norm");
            String reason = entry.skipped();
            int at = reason.indexOf("at loss ");
            skipped.put(entry.step(), cutLoss && at >= 0 ? reason.substring(0, at + "at loss ".length()) : reason);
        }
        return skipped;
    }

    private static JsonObject marker(Path out) {
        return Json.parseObjectFile(out.resolve(Checkpoint.MARKER), JsonLimits.upTo(1 << 20));
    }

    /** Every tensor of every safetensors file in {@code out} and its subfolders is finite. */
    private static void assertEverythingWrittenIsFinite(Path out) throws IOException {
        List<Path> files;
        try (Stream<Path> all = Files.walk(out)) {
            files = all.filter(p -> p.toString().endsWith(".safetensors")).toList();
        }
        assertTrue(files.size() >= 3, "state, adapter and best adapter: " + files);
        for (Path file : files) {
            try (SafetensorsFile tensors = SafetensorsFile.open(file)) {
                for (String name : tensors.names()) {
                    float[] values = tensors.readFloats(name);
                    for (int i = 0; i < values.length; i++) {
                        assertTrue(Float.isFinite(values[i]), file + ": " + name + "[" + i + "] is " + values[i]);
                    }
                }
            }
        }
    }

    /**
     * gpt2-tiny, except that the loss of a batch holding {@link #NAN_LOSS} is NaN and the gradient of one holding
     * {@link #NAN_GRADIENT} is NaN while its loss stays finite.
     */
    private static final class Poisoned implements LanguageModel {
        private final LanguageModel model;

        Poisoned(LanguageModel model) {
            this.model = model;
        }

        @Override
        public Variable loss(Tape tape, TokenBatch batch, Variable prompt) {
            Variable loss = model.loss(tape, batch, prompt);
            boolean nanLoss = holds(batch, NAN_LOSS), nanGradient = holds(batch, NAN_GRADIENT);
            if (!nanLoss && !nanGradient) return loss;
            Tensor value = tape.allocate(loss.shape());
            if (nanLoss) {
                tape.backend().fill(value, Double.NaN);
            } else {
                tape.backend().copy(loss.value(), value);
            }
            return tape.record(new NaNGradient(tape.backend(), nanGradient), value, loss);
        }

        private static boolean holds(TokenBatch batch, int token) {
            for (int id : batch.ids()) if (id == token) return true;
            return false;
        }

        @Override public String name() { return model.name(); }
        @Override public String architecture() { return model.architecture(); }
        @Override public int vocabSize() { return model.vocabSize(); }
        @Override public int dim() { return model.dim(); }
        @Override public int layers() { return model.layers(); }
        @Override public int heads() { return model.heads(); }
        @Override public int contextLength() { return model.contextLength(); }
        @Override public Backend backend() { return model.backend(); }
        @Override public Weights weights() { return model.weights(); }
        @Override public Tensor embeddingTable() { return model.embeddingTable(); }
        @Override public KvCache newKvCache(int batch, int capacity) { return model.newKvCache(batch, capacity); }

        @Override
        public Variable forward(Tape tape, Variable embeddings, Tensor keyMask, int[] positions, KvCache cache,
                                HiddenStateHook hook) {
            return model.forward(tape, embeddings, keyMask, positions, cache, hook);
        }

        @Override
        public void close() {
            model.close();
        }
    }

    /** The identity's backward, or NaN for every element of the input's gradient. */
    private record NaNGradient(Backend backend, boolean nan) implements Function {
        @Override
        public String name() {
            return "nan-gradient";
        }

        @Override
        public void backward(Tensor dOut, InputGrads grads) {
            if (!grads.needs(0)) return;
            if (nan) {
                backend.fill(grads.into(0), Double.NaN);
            } else {
                grads.pass(0, dOut);
            }
        }
    }
}
