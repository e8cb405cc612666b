package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.TensorSource;
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
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Llama-shaped families beyond Llama, made and run by Hugging Face's own code (tools/hf_crosscheck.py --save):
 * tiny random Qwen2 (q/k/v biases, θ = 10⁶) and Mistral models as transformers 5.17 saves them, on the golden batch
 * behind a PEFT 0.21 prompt. promptgrad loads each folder and reproduces the logits at every position, the loss and
 * dLoss/dPrompt, on each backend.
 */
class HuggingFaceFamiliesTest {

    private static final List<String> NAMES = List.of("qwen2-tiny", "mistral-tiny");

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> NAMES.stream().map(name -> Arguments.of(name, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void logitsLossAndPromptGradientMatchTransformersAndPeft(String name, TestBackends.Named named) {
        Path folder = Fixtures.folder("hf-families/" + name);
        JsonObject reference = Json.parseObjectFile(folder.resolve("reference.json"), JsonLimits.upTo(1 << 20));
        int rows = reference.requireArray("input_ids").size();
        int[] ids = matrix(reference, "input_ids");
        TokenBatch batch = new TokenBatch(rows, ids.length / rows, ids, matrix(reference, "attention_mask"),
                matrix(reference, "labels"));
        int promptLength = reference.requireInt("P");
        try (TensorSource expected = TensorSource.open(folder.resolve("reference.safetensors"));
             Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(folder, backend);
             Workspace workspace = new Workspace(backend, "families");
             Scope scope = new Scope(backend, "prompt")) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.parameter(scope.of(expected.readFloats("prompt"), promptLength, model.dim()),
                    "prompt");
            Variable logits = model.logits(tape, batch, prompt);
            assertArrayEquals(new int[] {rows, promptLength + batch.length(), model.vocabSize()}, logits.shape());
            Compare.assertClose(expected.readFloats("logits"), backend.download(logits.value()), 1e-5,
                    name + " logits");
            Variable loss = model.loss(tape, batch, prompt);
            double want = reference.requireDouble("loss");
            assertEquals(want, backend.downloadDouble(loss.value())[0], 1e-6 * Math.abs(want), name + " loss");
            Tensor dPrompt = tape.backward(loss).of(prompt);
            Compare.assertClose(expected.readFloats("prompt_grad"), backend.download(dPrompt), 1e-5,
                    name + " dLoss/dPrompt");
        }
    }

    /** A (rows, cols) integer matrix of reference.json, row-major. */
    private static int[] matrix(JsonObject reference, String key) {
        List<Object> rows = reference.requireArray(key);
        return rows.stream().flatMap(row -> ((List<?>) row).stream()).mapToInt(v -> Math.toIntExact((Long) v))
                .toArray();
    }
}
