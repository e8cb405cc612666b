package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.TensorSource;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The four PyTorch golden fixtures (gpt2-tiny, llama-tiny, llama-tiny-gqa, and llama-tiny-llama3 with Llama 3.1's
 * RoPE scaling; tools/README.md) loaded from their Hugging Face folders and run with the fixture's soft prompt: the
 * derived model mask and labels, logits, every hidden state, the loss, dLoss/dPrompt and a 10-step AdamW trajectory,
 * on each backend; the same logits from each folder as transformers 5 saves it (rope_parameters, dtype); and PEFT's
 * own logits behind a P_TUNING adapter that PEFT made and saved.
 */
class GoldenFixtureTest {

    private static final List<GoldenFixture> FIXTURES = GoldenFixture.NAMES.stream().map(GoldenFixture::load).toList();

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> FIXTURES.stream().map(f -> Arguments.of(f, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void modelMaskAndLabelsArePeftPrefixed(GoldenFixture fixture, TestBackends.Named backend) {
        TokenBatch batch = fixture.batch();
        int p = fixture.promptLength();
        assertArrayEquals(fixture.matrix("model_attention_mask"), batch.modelAttentionMask(p));
        assertArrayEquals(fixture.matrix("model_labels"), batch.modelLabels(p));
        int scored = 0;
        for (int target : batch.nextTokenTargets(p)) if (target != -100) scored++;
        assertEquals(fixture.json().requireInt("labelled_tokens"), scored);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void logitsAndHiddenStatesMatchPyTorch(GoldenFixture fixture, TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture.folder(), backend);
             Workspace workspace = new Workspace(backend, "golden");
             Scope scope = new Scope(backend, "prompt")) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.constant(promptTensor(fixture, scope, model.dim()), "prompt");
            Capture capture = new Capture(backend);
            Variable logits = model.logits(tape, fixture.batch(), prompt, capture);
            assertArrayEquals(new int[] {3, 12, model.vocabSize()}, logits.shape());
            Compare.assertClose(fixture.tensor("logits"), backend.download(logits.value()), 1e-5, fixture + " logits");
            assertEquals(model.layers() + 1, capture.blocks.size());
            for (int l = 0; l <= model.layers(); l++) {
                Compare.assertClose(fixture.slice("hidden_states", l), capture.blocks.get(l), 1e-5,
                        fixture + " hidden state " + l);
            }
            Compare.assertClose(fixture.tensor("final_hidden"), capture.finalNorm, 1e-5, fixture + " final norm");
            assertEquals(0, tape.recordedOps(), "a constant prompt records nothing");
        }
    }

    /**
     * transformers5/: the fixture model saved again by transformers 5.17 (tools/hf_crosscheck.py --save), whose
     * config.json holds RoPE's theta and scaling as rope_parameters, with no rope_theta or rope_scaling. A reader of
     * only the older keys would run llama-tiny-gqa with θ 10000 instead of 500000 and llama-tiny-llama3 unscaled.
     */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void foldersSavedByTransformers5GiveTheSameLogits(GoldenFixture fixture, TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture.folder().resolve("transformers5"), backend);
             Workspace workspace = new Workspace(backend, "golden");
             Scope scope = new Scope(backend, "prompt")) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.constant(promptTensor(fixture, scope, model.dim()), "prompt");
            Variable logits = model.logits(tape, fixture.batch(), prompt);
            Compare.assertClose(fixture.tensor("logits"), backend.download(logits.value()), 1e-5,
                    fixture + " logits from transformers5/");
        }
    }

    /**
     * gpt2-tiny/adapter-peft-p-tuning/: a P_TUNING adapter (an MLP prompt encoder over 4 virtual tokens) that PEFT
     * 0.21 made and saved, and the logits PEFT gives behind it (tools/hf_crosscheck.py --save). PEFT saves the
     * encoder's output as prompt_embeddings; read as a plain prompt, it gives PEFT's logits.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void aPTuningAdapterPeftSavedGivesPeftsLogits(TestBackends.Named named) {
        GoldenFixture fixture = GoldenFixture.load("gpt2-tiny");
        Path adapterFolder = fixture.folder().resolve("adapter-peft-p-tuning");
        PeftAdapter adapter = PeftAdapter.read(adapterFolder);
        assertEquals("P_TUNING", adapter.peftType());
        float[] expected;
        try (TensorSource reference = TensorSource.open(adapterFolder.resolve("reference.safetensors"))) {
            expected = reference.readFloats("logits");
        }
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture.folder(), backend);
             Workspace workspace = new Workspace(backend, "p-tuning");
             Scope scope = new Scope(backend, "prompt")) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.constant(scope.of(adapter.embeddings(), adapter.virtualTokens(), adapter.width()),
                    "prompt");
            Compare.assertClose(expected, backend.download(model.logits(tape, fixture.batch(), prompt).value()), 1e-5,
                    "gpt2-tiny behind PEFT's P_TUNING adapter");
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void lossAndPromptGradientMatchPyTorch(GoldenFixture fixture, TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture.folder(), backend);
             Workspace workspace = new Workspace(backend, "golden");
             Scope scope = new Scope(backend, "prompt")) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.parameter(promptTensor(fixture, scope, model.dim()), "prompt");
            Variable loss = model.loss(tape, fixture.batch(), prompt);
            double expected = fixture.json().requireDouble("loss");
            double actual = backend.downloadDouble(loss.value())[0];
            assertEquals(expected, actual, 1e-6 * Math.abs(expected), fixture + " loss");
            assertEquals(fixture.tensor("loss")[0], (float) expected, "golden.json and golden.safetensors agree");
            Tensor dPrompt = tape.backward(loss).of(prompt);
            Compare.assertClose(fixture.tensor("prompt_grad"), backend.download(dPrompt), 1e-5,
                    fixture + " dLoss/dPrompt");
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void adamWTrajectoryMatchesPyTorch(GoldenFixture fixture, TestBackends.Named named) {
        JsonObject optimizer = fixture.json().requireObject("optimizer");
        assertEquals("AdamW", optimizer.requireString("name"));
        double[] betas = optimizer.requireDoubles("betas");
        double lr = optimizer.requireDouble("lr");
        int steps = optimizer.requireInt("steps");
        float[] expectedLosses = fixture.tensor("trajectory_losses");
        assertEquals(steps, expectedLosses.length);
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture.folder(), backend);
             Workspace workspace = new Workspace(backend, "golden");
             Scope scope = new Scope(backend, "prompt")) {
            Tensor promptValues = promptTensor(fixture, scope, model.dim());
            float[] values = backend.download(promptValues);
            Adam adam = new Adam(List.of(Parameter.of("prompt_embeddings", promptValues.shape())),
                    new Adam.Settings(betas[0], betas[1], optimizer.requireDouble("eps"),
                            optimizer.requireDouble("weight_decay"), Adam.WeightDecay.DECOUPLED));
            Tape tape = new Tape(backend, workspace);
            TokenBatch batch = fixture.batch();
            for (int s = 0; s < steps; s++) {
                tape.reset();
                backend.upload(values, promptValues);
                Variable prompt = tape.parameter(promptValues, "prompt");
                Variable loss = model.loss(tape, batch, prompt);
                float[] grad = backend.download(tape.backward(loss).of(prompt));
                double lossValue = backend.downloadDouble(loss.value())[0];
                assertEquals(expectedLosses[s], lossValue, 1e-4 * Math.abs(expectedLosses[s]),
                        fixture + " loss before step " + s);
                adam.step(values, grad, lr);
                float[] expected = fixture.slice("trajectory_prompts", s);
                double worst = 0;
                for (int i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - expected[i]));
                assertTrue(worst <= 1e-4, fixture + " prompt after step " + s + " is off by " + worst);
            }
            float[] initial = fixture.tensor("prompt");
            double moved = 0;
            for (int i = 0; i < values.length; i++) moved = Math.max(moved, Math.abs(values[i] - initial[i]));
            assertTrue(moved > 1e-2, "ten steps at lr " + lr + " must move the prompt; it moved " + moved);
        }
    }

    private static Tensor promptTensor(GoldenFixture fixture, Scope scope, int dim) {
        return scope.of(fixture.tensor("prompt"), fixture.promptLength(), dim);
    }

    /** Downloads every hidden state the model shows it. */
    private static final class Capture implements HiddenStateHook {
        private final Backend backend;
        final List<float[]> blocks = new ArrayList<>();
        float[] finalNorm;

        Capture(Backend backend) {
            this.backend = backend;
        }

        @Override
        public void block(int index, Tensor hidden) {
            assertEquals(blocks.size(), index, "blocks arrive in order");
            blocks.add(backend.download(hidden));
        }

        @Override
        public void finalNorm(Tensor hidden) {
            finalNorm = backend.download(hidden);
        }
    }
}
