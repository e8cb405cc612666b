package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad generate --batch}: requests with different adapters (or none), inputs and settings print one
 * JSON line each, in order, equal to what {@code generate} prints for each alone; bad lines and flag mixes fail
 * with one line naming the file and line.
 */
class GenerateBatchTest {

    private static String stories() {
        return SharedFiles.stories260K().toString();
    }

    @Test
    void eachRequestPrintsWhatItPrintsAlone(@TempDir Path folder) throws IOException {
        Path a = SoftPromptFiles.adapter(folder.resolve("a"), SoftPromptFiles.random(2, 64, 0.5, 1), 2, 64);
        Path b = SoftPromptFiles.adapter(folder.resolve("b"), SoftPromptFiles.random(4, 64, 0.5, 2), 4, 64);
        Path requests = folder.resolve("requests.jsonl");
        Files.writeString(requests, String.join("\n",
                "{\"prompt\": \"" + a + "\", \"input_ids\": [1, 461], \"max_new_tokens\": 9}",
                "",
                "{\"prompt\": null, \"input_ids\": [1]}",
                "{\"prompt\": \"" + b + "\", \"input_ids\": [1, 378, 455, 473], \"temperature\": 0.9, \"seed\": 4}",
                "{\"prompt\": \"" + a + "\", \"input_ids\": [1], \"max_new_tokens\": 3}") + "\n");
        CliRun run = CliRun.of("generate", "--model", stories(), "--batch", requests.toString(), "--temperature", "0",
                "--max-new-tokens", "12", "--batch-size", "3");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<String> lines = run.out().lines().toList();
        assertEquals(4, lines.size(), run.describe());
        String[][] alone = {
                {"--prompt", a.toString(), "--input-ids", "1,461", "--max-new-tokens", "9", "--temperature", "0"},
                {"--input-ids", "1", "--max-new-tokens", "12", "--temperature", "0"},
                {"--prompt", b.toString(), "--input-ids", "1,378,455,473", "--max-new-tokens", "12", "--temperature", "0.9",
                        "--seed", "4"},
                {"--prompt", a.toString(), "--input-ids", "1", "--max-new-tokens", "3", "--temperature", "0"}};
        String[] prompts = {a.toString(), null, b.toString(), a.toString()};
        for (int i = 0; i < alone.length; i++) {
            String[] args = new String[alone[i].length + 4];
            args[0] = "generate";
            args[1] = "--model";
            args[2] = stories();
            args[3] = "--json";
            System.arraycopy(alone[i], 0, args, 4, alone[i].length);
            CliRun single = CliRun.of(args);
            assertEquals(Main.OK, single.exitCode(), single.describe());
            JsonObject expected = parse(single.out());
            JsonObject actual = parse(lines.get(i));
            assertEquals(prompts[i], actual.get("prompt"), "request " + i);
            for (String key : expected.keys()) assertEquals(expected.get(key), actual.get(key), "request " + i + " " + key);
            assertEquals(expected.keys().size() + 1, actual.keys().size(), "request " + i + " keys");
        }
        assertEquals(3, parse(lines.get(3)).requireArray("generated_ids").size());
    }

    @Test
    void badRequestsFailWithTheFileAndLine(@TempDir Path folder) throws IOException {
        Path requests = folder.resolve("requests.jsonl");
        Files.writeString(requests, "{\"input_ids\": [1]}\n{\"input_ids\": [1], \"text\": \"Once\"}\n");
        assertEquals(requests + ":2: both 'text' and 'input_ids' are given; each line must be {\"prompt\": \"ADAPTER_DIR\""
                + " or null, \"text\": \"...\" or \"input_ids\": [...], and optionally \"max_new_tokens\", \"temperature\","
                + " \"seed\"}", failure("generate", "--model", stories(), "--batch", requests.toString()));

        Files.writeString(requests, "{\"input_ids\": [1]}\n{\"input_ids\": [1, 600]}\n");
        assertEquals(requests + ":2: input_ids[1] = 600 is outside the model's vocabulary [0, 512)",
                failure("generate", "--model", stories(), "--batch", requests.toString()));

        Files.writeString(requests, "{\"input_ids\": [1], \"temperature\": -1}\n");
        assertEquals(requests + ":1: temperature -1.0 must be 0 (greedy) or a positive number",
                failure("generate", "--model", stories(), "--batch", requests.toString()));

        Files.writeString(requests, "{\"input_ids\": [1]\n");
        assertTrue(failure("generate", "--model", stories(), "--batch", requests.toString())
                .startsWith(requests + ":1: not valid JSON at column"));

        Files.writeString(requests, "{\"input_ids\": [1], \"prompt\": \"" + folder.resolve("absent") + "\"}\n");
        assertTrue(failure("generate", "--model", stories(), "--batch", requests.toString())
                .startsWith(folder.resolve("absent") + " does not exist"));

        Files.writeString(requests, "\n\n");
        assertEquals(requests + ": the file has no requests; each line must be {\"prompt\": \"ADAPTER_DIR\" or null,"
                + " \"text\": \"...\" or \"input_ids\": [...], and optionally \"max_new_tokens\", \"temperature\", \"seed\"}",
                failure("generate", "--model", stories(), "--batch", requests.toString()));

        Files.writeString(requests, "{\"input_ids\": [1]}\n");
        assertEquals("--prompt does not combine with --batch; name each request's adapter in its \"prompt\" key",
                failure("generate", "--model", stories(), "--batch", requests.toString(), "--prompt", folder.toString()));
        CliRun both = CliRun.of("generate", "--model", stories(), "--batch", requests.toString(), "--input-ids", "1");
        assertEquals(Main.USAGE, both.exitCode(), both.describe());
        assertTrue(both.err().contains("mutually exclusive"), both.describe());
    }

    private static JsonObject parse(String line) {
        return JsonObject.of(Json.parse(line.strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
    }

    private static String failure(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertEquals(1, run.err().lines().count(), run.describe());
        return run.err().substring("error: ".length()).strip();
    }
}
