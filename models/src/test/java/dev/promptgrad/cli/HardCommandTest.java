package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad hard} end to end: on stories260K with token ids, a short GCG run prints its steps and writes a
 * result whose losses {@code eval --hard-prompt} reproduces, which {@code generate} puts after BOS, and which the same
 * seed writes byte for byte again; on the tiny text model, AutoPrompt finds a text that re-tokenizes to its ids and
 * {@code eval} takes it as text. Bad input fails with one line and writes nothing.
 */
class HardCommandTest {
    private static final int BOS = 1;

    @TempDir
    Path folder;
    Path train;
    Path eval;

    @BeforeEach
    void data() throws IOException {
        Random random = new Random(7);
        StringBuilder trainLines = new StringBuilder(), evalLines = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            int a = 3 + random.nextInt(500), b = 3 + random.nextInt(500);
            String line = "{\"input_ids\": [" + BOS + ", " + a + ", " + b + ", 461, 461, 401], \"labels\": [-100, -100, -100,"
                    + " 461, 461, 401]}\n";
            (i < 6 ? trainLines : evalLines).append(line);
        }
        train = Files.writeString(folder.resolve("train.jsonl"), trainLines.toString());
        eval = Files.writeString(folder.resolve("eval.jsonl"), evalLines.toString());
    }

    @Test
    void gcgOnStories260KWritesAResultThatEvalAndGenerateUse() throws IOException {
        Path result = folder.resolve("result.json");
        String[] args = {"hard", "--model", SharedFiles.stories260K().toString(), "--data", train.toString(), "--eval",
                eval.toString(), "--method", "gcg", "--tokens", "4", "--steps", "3", "--top-k", "16", "--candidates", "16",
                "--batch-size", "4", "--seed", "3", "--threads", "2", "--out", result.toString()};
        CliRun run = CliRun.of(args);
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<String> lines = run.out().lines().toList();
        assertTrue(lines.get(0).startsWith("gcg: ") && lines.get(0).contains("509 of 512 tokens are candidates")
                && lines.get(0).contains("after BOS 1"), run.out());
        for (int s = 1; s <= 3; s++) {
            int step = s;
            assertTrue(lines.stream().anyMatch(l -> l.matches("step " + step + "/3  loss \\d+\\.\\d{4}  held-out \\d+\\.\\d{4}"
                    + "( \\(best\\))?  ids \\[\\d+, \\d+, \\d+, \\d+]")), run.out());
        }
        assertTrue(lines.get(lines.size() - 1).equals("written to " + result), run.out());

        JsonObject file = Json.parseObjectFile(result, JsonLimits.upTo(1 << 20));
        assertEquals(List.of("method", "model", "tokenizer", "placement", "tokens", "ids", "text", "text_round_trips",
                "candidates", "train_loss", "eval_loss", "baseline_train_loss", "baseline_eval_loss", "judged_on",
                "best_step", "steps", "settings"), List.copyOf(file.keys()));
        int[] ids = file.requireInts("ids");
        assertEquals(4, ids.length);
        assertTrue(Arrays.stream(ids).allMatch(id -> id > 2 && id < 512), Arrays.toString(ids));
        assertNull(file.get("text"));
        assertEquals("eval", file.requireString("judged_on"));
        assertEquals(509, file.requireInt("candidates"));

        CliRun scored = CliRun.of("eval", "--model", SharedFiles.stories260K().toString(), "--data", eval.toString(),
                "--hard-prompt", result.toString(), "--json", "--threads", "2");
        assertEquals(Main.OK, scored.exitCode(), scored.describe());
        List<String> reports = scored.out().lines().toList();
        assertEquals(file.requireDouble("baseline_eval_loss"), parse(reports.get(0)).requireDouble("loss"), 1e-5);
        assertEquals(file.requireDouble("eval_loss"), parse(reports.get(1)).requireDouble("loss"), 1e-5);
        assertEquals(result.toString(), parse(reports.get(1)).requireString("prompt"));

        CliRun generated = CliRun.of("generate", "--model", SharedFiles.stories260K().toString(), "--input-ids", "1,7",
                "--hard-prompt", result.toString(), "--temperature", "0", "--max-new-tokens", "2", "--json");
        assertEquals(Main.OK, generated.exitCode(), generated.describe());
        int[] input = parse(generated.out()).requireInts("input_ids");
        assertArrayEquals(new int[] {1, ids[0], ids[1], ids[2], ids[3], 7}, input, "the prompt goes after BOS");

        Path again = folder.resolve("again.json");
        args[args.length - 1] = again.toString();
        assertEquals(Main.OK, CliRun.of(args).exitCode());
        assertArrayEquals(Files.readAllBytes(result), Files.readAllBytes(again), "the same seed writes the same file");
    }

    @Test
    void autoPromptFindsTextThatReTokenizesToItsIds() throws IOException {
        Path model = TinyTextModel.write(folder.resolve("tiny"));
        Path pairs = Files.writeString(folder.resolve("pairs.jsonl"),
                "{\"input\": \"ab\", \"output\": \"a\"}\n{\"input\": \"ba\", \"output\": \"b\"}\n{\"text\": \"abc\"}\n");
        Path result = folder.resolve("tiny.json");
        CliRun run = CliRun.of("hard", "--model", model.toString(), "--data", pairs.toString(), "--method", "autoprompt",
                "--tokens", "3", "--steps", "4", "--init", "b", "--device", "reference", "--out", result.toString(), "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject printed = parse(run.out());
        JsonObject file = Json.parseObjectFile(result, JsonLimits.upTo(1 << 20));
        assertEquals(file.map(), printed.map(), "--json prints the result file");
        assertTrue(run.err().contains("step 4/4") && run.err().contains("2 of 61 tokens are candidates"), run.describe());
        int[] ids = file.requireInts("ids");
        assertTrue(Arrays.stream(ids).allMatch(id -> id == 30 || id == 31), "only ▁a and ▁b round-trip: " + file);
        assertTrue(file.requireBoolean("text_round_trips"));
        assertEquals("train", file.requireString("judged_on"));
        assertNull(file.get("eval_loss"));
        String text = file.requireString("text");
        assertTrue(text.matches("[ab]( [ab]){2}"), text);

        CliRun asText = CliRun.of("eval", "--model", model.toString(), "--data", pairs.toString(), "--hard-prompt", text,
                "--json", "--device", "reference");
        CliRun asFile = CliRun.of("eval", "--model", model.toString(), "--data", pairs.toString(), "--hard-prompt",
                result.toString(), "--json", "--device", "reference");
        assertEquals(Main.OK, asText.exitCode(), asText.describe());
        double loss = parse(asText.out().lines().toList().get(1)).requireDouble("loss");
        assertEquals(parse(asFile.out().lines().toList().get(1)).requireDouble("loss"), loss, 0, "text and ids agree");
        assertEquals(file.requireDouble("train_loss"), loss, 1e-6, "eval's loss is the search's");
    }

    @Test
    void badInputFailsWithOneLineAndWritesNothing() throws IOException {
        String stories = SharedFiles.stories260K().toString();
        Path out = folder.resolve("never.json");
        assertEquals("--tokens must be at least 1, got 0", failure("hard", "--model", stories, "--data", train.toString(),
                "--method", "pez", "--tokens", "0", "--out", out.toString()));
        assertEquals("--init needs a tokenizer, and " + stories + " is a llama2.c checkpoint, which has none of its own;"
                + " pass --tokenizer tokenizer.bin or use token ids", failure("hard", "--model", stories, "--data",
                train.toString(), "--method", "gcg", "--tokens", "2", "--init", "Once upon", "--out", out.toString()));
        assertEquals("--hard-prompt \"Once\" (a text) needs a tokenizer, and " + stories + " is a llama2.c checkpoint,"
                + " which has none of its own; pass --tokenizer tokenizer.bin or use token ids",
                failure("eval", "--model", stories, "--data", eval.toString(), "--hard-prompt", "Once"));
        assertEquals("--optimizer, --lr and --weight-decay apply to --method pez only", failure("hard", "--model", stories,
                "--data", train.toString(), "--method", "gcg", "--tokens", "2", "--lr", "0.1", "--out", out.toString()));
        assertEquals("keeping only ASCII tokens needs a tokenizer to decode them, and the model has none; give a"
                + " tokenizer or drop the ASCII filter", failure("hard",
                "--model", stories, "--data", train.toString(), "--method", "pez", "--tokens", "2", "--ascii", "--out",
                out.toString()));

        Path model = TinyTextModel.write(folder.resolve("no-merges"));
        Files.writeString(model.resolve("tokenizer.json"), Files.readString(model.resolve("tokenizer.json"))
                .replace("\"merges\": [\"▁ a\", \"▁ b\"]", "\"merges\": []"));
        Path text = Files.writeString(folder.resolve("text.jsonl"), "{\"text\": \"ab\"}\n");
        String empty = failure("hard", "--model", model.toString(), "--data", text.toString(), "--method", "gcg",
                "--tokens", "2", "--out", out.toString());
        assertTrue(empty.startsWith("no candidate token is left of the 61 in the vocabulary (removed 2 excluded ids"), empty);
        assertTrue(empty.contains("not surviving decode → encode"), empty);
        assertFalse(Files.exists(out), "a failed run writes no result");
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
