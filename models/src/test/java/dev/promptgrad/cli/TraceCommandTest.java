package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad trace} on the gpt2-tiny and llama-tiny fixtures: every stage's shape; the loss and dPrompt's
 * norm equal {@code grad}'s; with one sequence, the gradient at the input of block 0 on the prompt rows is
 * dPrompt itself; the table lists every stage; bad data fails with one line.
 */
class TraceCommandTest {
    private static final String DATA = "{\"input_ids\": [3, 14, 15, 9], \"labels\": [3, 14, -100, 9]}\n";

    private static JsonObject parse(String line) {
        return JsonObject.of(Json.parse(line.strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
    }

    @Test
    void stagesShapesAndGradientNormsAgreeWithGrad(@TempDir Path folder) throws IOException {
        Path data = Files.writeString(folder.resolve("data.jsonl"), DATA);
        for (String fixture : List.of("gpt2-tiny", "llama-tiny")) {
            Path modelFolder = Path.of("src/test/resources/fixtures/" + fixture);
            Path adapter = modelFolder.resolve("adapter");
            CliRun run = CliRun.of("trace", "--model", modelFolder.toString(), "--prompt", adapter.toString(), "--data",
                    data.toString(), "--json", "--device", "reference");
            assertEquals(Main.OK, run.exitCode(), run.describe());
            JsonObject trace = parse(run.out());
            CliRun grad = CliRun.of("grad", "--model", modelFolder.toString(), "--prompt", adapter.toString(), "--data",
                    data.toString(), "--out", folder.resolve(fixture + ".safetensors").toString(), "--json", "--device",
                    "reference");
            JsonObject expected = parse(grad.out());
            assertEquals(expected.requireDouble("loss"), trace.requireDouble("loss"), 1e-6, fixture);
            int prompt = expected.requireInt("prompt_tokens");
            List<Object> stages = trace.requireArray("stages");
            assertEquals(2 + 3 + 3, stages.size(), fixture + ": embeddings, prompt, 3 boundaries, norm, logits, loss");
            Map<?, ?> tokens = (Map<?, ?>) stages.get(0);
            assertEquals(List.of(1L, 4L, 16L), tokens.get("shape"));
            assertNull(tokens.get("grad_norm"), "token embeddings are constants");
            Map<?, ?> promptStage = (Map<?, ?>) stages.get(1);
            assertEquals(List.of((long) prompt, 16L), promptStage.get("shape"));
            double dPrompt = ((Number) promptStage.get("grad_norm")).doubleValue();
            assertEquals(expected.requireDouble("grad_norm"), dPrompt, 1e-6 * dPrompt, fixture);
            Map<?, ?> input = (Map<?, ?>) stages.get(2);
            assertEquals(List.of(1L, (long) prompt + 4, 16L), input.get("shape"));
            assertEquals(dPrompt, ((Number) input.get("grad_norm_prompt_rows")).doubleValue(), 1e-6 * dPrompt,
                    fixture + ": one sequence, so dPrompt is dLoss/dInput on the prompt rows");
            for (int i = 2; i < 7; i++) {
                Map<?, ?> stage = (Map<?, ?>) stages.get(i);
                double promptRows = ((Number) stage.get("grad_norm_prompt_rows")).doubleValue();
                double all = ((Number) stage.get("grad_norm")).doubleValue();
                assertTrue(promptRows <= all && all > 0, fixture + " " + stage);
            }
            assertEquals("after block 1", ((Map<?, ?>) stages.get(4)).get("stage"));
            assertEquals(List.of(1L, (long) prompt + 4, 61L + (fixture.equals("gpt2-tiny") ? 0 : 6)),
                    ((Map<?, ?>) stages.get(6)).get("shape"));
            assertEquals("loss", ((Map<?, ?>) stages.get(7)).get("stage"));
        }
    }

    @Test
    void theTableListsEveryStage(@TempDir Path folder) throws IOException {
        Path data = Files.writeString(folder.resolve("data.jsonl"), DATA + DATA);
        CliRun run = CliRun.of("trace", "--model", TinyTextModel.FIXTURE.toString(), "--prompt",
                TinyTextModel.ADAPTER.toString(), "--data", data.toString());
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<String> lines = run.out().lines().toList();
        assertEquals(9, lines.size(), run.out());
        assertTrue(lines.get(0).startsWith("stage") && lines.get(0).contains("prompt rows"), run.out());
        assertTrue(lines.get(1).matches("token embeddings +\\[2, 4, 16] +- +-"), run.out());
        assertTrue(lines.get(3).startsWith("prompt + tokens + positions (input to block 0)  [2, 9, 16]"), run.out());
        assertTrue(lines.get(8).startsWith("loss") && lines.get(8).contains("scalar "), run.out());
    }

    @Test
    void dataWithoutLabelsFails(@TempDir Path folder) throws IOException {
        Path data = Files.writeString(folder.resolve("data.jsonl"), "{\"input_ids\": [3], \"labels\": [-100]}\n");
        CliRun run = CliRun.of("trace", "--model", TinyTextModel.FIXTURE.toString(), "--prompt",
                TinyTextModel.ADAPTER.toString(), "--data", data.toString());
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("error: " + data + ": every label is -100, so there is no loss; label at least one token",
                run.err().strip());
        CliRun missing = CliRun.of("trace", "--model", TinyTextModel.FIXTURE.toString(), "--data", data.toString());
        assertEquals(Main.USAGE, missing.exitCode(), missing.describe());
    }
}
