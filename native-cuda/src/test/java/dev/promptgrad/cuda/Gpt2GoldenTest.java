package dev.promptgrad.cuda;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The PyTorch golden fixture of the tiny random GPT-2 (tools/golden_fixtures.py: PEFT prompt tuning, padded
 * batch) reproduced through {@link Gpt2Stack} on the CPU backend and on CUDA: logits, loss, dLoss/dPrompt and a
 * 10-step AdamW trajectory. On CUDA every kernel is checked as it runs. CUDA is skipped, with the reason, where no
 * GPU is usable (unless one is required: RequiresCuda#required). The fixtures live in the models module's test
 * resources.
 */
class Gpt2GoldenTest {

    static final Gpt2Stack.Shape TINY = new Gpt2Stack.Shape("gpt2-tiny", 61, 32, 16, 2, 4, 1e-5);

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "cuda"})
    void gpt2TinyMatchesPyTorch(String device) {
        Path folder = fixtureFolder().resolve("gpt2-tiny");
        JsonObject golden = Json.parseObjectFile(folder.resolve("golden.json"), JsonLimits.upTo(1 << 20));
        Map<String, FixtureTensors.Entry> expected = FixtureTensors.read(folder.resolve("golden.safetensors"));
        int promptLength = golden.requireInt("P");
        int[][] ids = rows(golden.requireArray("input_ids"));
        int[][] mask = rows(golden.requireArray("model_attention_mask"));
        int[] targets = Gpt2Stack.shiftedTargets(rows(golden.requireArray("model_labels")));
        int batch = ids.length, length = ids[0].length, total = promptLength + length;
        float[] prompt = FixtureTensors.require(expected, "prompt", folder).values();

        try (Backend backend = open(device);
             Gpt2Stack model = Gpt2Stack.load(backend, TINY, FixtureTensors.read(folder.resolve("model.safetensors")));
             Scope inputs = new Scope(backend, "golden inputs");
             Workspace workspace = new Workspace(backend, "golden step")) {
            Tensor promptTensor = inputs.of(prompt.clone(), promptLength, TINY.dim());
            Tensor keyMask = inputs.of(flatFloats(mask), batch, total);
            Tape tape = new Tape(backend, workspace);
            int[] flatIds = flat(ids);

            Variable p = tape.parameter(promptTensor, "prompt");
            Variable logits = model.logits(tape, p, flatIds, batch, length, keyMask);
            compare(device + " logits", backend.download(logits.value()), expected.get("logits").values(), 2e-5, 1e-4);
            Variable loss = CrossEntropy.apply(tape, logits, targets);
            assertEquals(golden.requireDouble("loss"), backend.downloadDouble(loss.value())[0], 2e-6, device + " loss");
            Gradients grads = tape.backward(loss);
            compare(device + " dLoss/dPrompt", backend.download(grads.of(p)), expected.get("prompt_grad").values(), 1e-6, 1e-4);

            JsonObject settings = golden.requireObject("optimizer");
            Adam adamW = new Adam(List.of(Parameter.of("prompt_embeddings", promptLength, TINY.dim())),
                    Adam.Settings.ADAMW.withWeightDecay(settings.requireDouble("weight_decay")));
            float[] trained = prompt.clone();
            float[] trajectoryLosses = expected.get("trajectory_losses").values();
            float[] trajectoryPrompts = expected.get("trajectory_prompts").values();
            int size = trained.length;
            for (int step = 0; step < settings.requireInt("steps"); step++) {
                tape.reset();
                backend.upload(trained, promptTensor);
                Variable q = tape.parameter(promptTensor, "prompt");
                Variable stepLoss = CrossEntropy.apply(tape, model.logits(tape, q, flatIds, batch, length, keyMask), targets);
                assertEquals(trajectoryLosses[step], backend.downloadDouble(stepLoss.value())[0], 2e-5,
                        device + " trajectory loss before step " + step);
                adamW.step(trained, backend.download(tape.backward(stepLoss).of(q)), settings.requireDouble("lr"));
                float[] expectedPrompt = new float[size];
                System.arraycopy(trajectoryPrompts, step * size, expectedPrompt, 0, size);
                compare(device + " prompt after step " + step, trained, expectedPrompt, 1e-4, 0);
            }
            workspace.close();
            inputs.close();
            model.close();
            assertEquals(0, backend.liveBytes(), device + " live bytes after closing every owner");
        }
    }

    private static Backend open(String device) {
        if (device.equals("cpu")) return new CpuBackend(new CpuBackend.Options(1, 1));
        String reason = CudaAvailability.unavailableReason();
        assumeTrue(reason == null || RequiresCuda.required(), () -> "skipped: " + reason);
        return new CudaBackend(new CudaBackend.Options(0, false, true));
    }

    /** models/src/test/resources/fixtures, from this module (Maven) or the repository root (the device check). */
    static Path fixtureFolder() {
        String configured = System.getProperty("promptgrad.fixtures");
        if (configured != null) return Paths.get(configured);
        for (String candidate : new String[]{"../models/src/test/resources/fixtures", "models/src/test/resources/fixtures"}) {
            if (Files.isDirectory(Paths.get(candidate))) return Paths.get(candidate);
        }
        throw new IllegalStateException("the golden fixtures (models/src/test/resources/fixtures) were not found from "
                + Paths.get("").toAbsolutePath() + "; run from the repository root or set -Dpromptgrad.fixtures");
    }

    private static void compare(String what, float[] actual, float[] expected, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": element count");
        for (int i = 0; i < actual.length; i++) {
            double bound = atol + rtol * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= bound)) {
                fail(what + ": element " + i + " is " + actual[i] + ", PyTorch " + expected[i] + " (tolerance " + bound + ")");
            }
        }
        assertTrue(actual.length > 0, what + " is empty");
    }

    private static int[][] rows(List<Object> array) {
        int[][] rows = new int[array.size()][];
        for (int r = 0; r < rows.length; r++) {
            List<?> row = (List<?>) array.get(r);
            rows[r] = new int[row.size()];
            for (int c = 0; c < row.size(); c++) rows[r][c] = ((Number) row.get(c)).intValue();
        }
        return rows;
    }

    private static int[] flat(int[][] rows) {
        int[] flat = new int[rows.length * rows[0].length];
        for (int r = 0; r < rows.length; r++) System.arraycopy(rows[r], 0, flat, r * rows[r].length, rows[r].length);
        return flat;
    }

    private static float[] flatFloats(int[][] rows) {
        int[] ints = flat(rows);
        float[] floats = new float[ints.length];
        for (int i = 0; i < ints.length; i++) floats[i] = ints[i];
        return floats;
    }
}
