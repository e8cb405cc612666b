package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.testing.Compare;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad train} end to end on the gpt2-tiny golden fixture: ten steps from the fixture's adapter land on
 * PyTorch's prompt; a run stopped and resumed with --resume writes the same bytes as one run; the folder is an
 * adapter that generate reads; and every bad input fails with one line naming the file and line.
 */
class TrainCommandTest {
    private static final Path MODEL = Path.of("src/test/resources/fixtures/gpt2-tiny");
    private static final Path ADAPTER = MODEL.resolve("adapter");

    @TempDir
    Path folder;

    /** golden.json's batch as JSONL: each sequence without its pads, labels as given. */
    private Path goldenData() throws IOException {
        JsonObject golden = Json.parseObjectFile(MODEL.resolve("golden.json"), JsonLimits.upTo(1 << 24));
        List<Object> ids = golden.requireArray("input_ids");
        List<Object> labels = golden.requireArray("labels");
        int[] lengths = golden.requireInts("lengths");
        StringBuilder jsonl = new StringBuilder();
        for (int b = 0; b < lengths.length; b++) {
            jsonl.append("{\"input_ids\": ").append(prefix(ids.get(b), lengths[b]))
                    .append(", \"labels\": ").append(prefix(labels.get(b), lengths[b])).append("}\n");
        }
        return Files.writeString(folder.resolve("golden.jsonl"), jsonl);
    }

    private static String prefix(Object row, int length) {
        return ((List<?>) row).subList(0, length).stream().map(String::valueOf)
                .collect(Collectors.joining(", ", "[", "]"));
    }

    /** {@code count} lines of random ids (1..60), the second half of each scored. */
    private Path randomData(String name, int count, long seed) throws IOException {
        Random random = new Random(seed);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int length = 4 + random.nextInt(8);
            int[] ids = new int[length];
            for (int t = 0; t < length; t++) ids[t] = 1 + random.nextInt(60);
            int[] labels = ids.clone();
            Arrays.fill(labels, 0, length / 2, -100);
            lines.add("{\"input_ids\": " + Arrays.toString(ids) + ", \"labels\": " + Arrays.toString(labels) + "}");
        }
        return Files.write(folder.resolve(name), lines);
    }

    private static float[] golden(String tensor) {
        try (SafetensorsFile file = SafetensorsFile.open(MODEL.resolve("golden.safetensors"))) {
            return file.readFloats(tensor);
        }
    }

    @Test
    void tenStepsFromTheFixtureAdapterLandOnPyTorchsPrompt() throws IOException {
        Path out = folder.resolve("run");
        CliRun run = CliRun.of("train", "--model", MODEL.toString(), "--data", goldenData().toString(),
                "--out", out.toString(), "--init", "adapter:" + ADAPTER, "--optimizer", "adamw", "--batch", "3",
                "--steps", "10", "--clip", "0", "--device", "reference");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertEquals("", run.err());
        assertTrue(run.out().startsWith("training 10 steps (3 examples each, 1 per epoch) on "), run.describe());
        assertTrue(run.out().contains("\nfinished after 10 of 10 steps, loss "), run.describe());
        assertTrue(run.out().endsWith("adapter written to " + out + "\n"), run.describe());
        PeftAdapter trained = PeftAdapter.read(out);
        assertEquals(5, trained.virtualTokens(), "the adapter's virtual tokens, since --virtual-tokens was not given");
        float[] expected = Arrays.copyOfRange(golden("trajectory_prompts"), 9 * 80, 10 * 80);
        Compare.assertClose(expected, trained.embeddings(), 1e-5, "the prompt after 10 AdamW steps");
        JsonObject config = Json.parseObjectFile(out.resolve(PeftAdapter.CONFIG_FILE), JsonLimits.upTo(1 << 20));
        assertEquals(MODEL.toString(), config.requireString("base_model_name_or_path"));
        assertEquals("RANDOM", config.requireString("prompt_tuning_init"));
    }

    @Test
    void stoppedAndResumedRunWritesTheSameBytes() throws IOException {
        Path data = randomData("train.jsonl", 10, 1);
        List<String> common = List.of("--model", MODEL.toString(), "--data", data.toString(), "--eval-split", "0.2",
                "--virtual-tokens", "3", "--optimizer", "adafactor", "--schedule", "warmup-constant", "--warmup", "2",
                "--batch", "2", "--grad-accum", "2", "--seed", "4", "--save-every", "2");
        Path whole = folder.resolve("whole"), split = folder.resolve("split");
        CliRun first = CliRun.of(with(common, "--out", whole.toString(), "--steps", "7"));
        assertEquals(Main.OK, first.exitCode(), first.describe());
        CliRun part = CliRun.of(with(common, "--out", split.toString(), "--steps", "3"));
        assertEquals(Main.OK, part.exitCode(), part.describe());
        CliRun rest = CliRun.of("train", "--resume", split.toString(), "--steps", "7", "--json");
        assertEquals(Main.OK, rest.exitCode(), rest.describe());
        assertTrue(rest.out().startsWith("resuming at step 3 of 7 steps"), rest.describe());
        String summary = rest.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        JsonObject result = JsonObject.of(Json.parse(summary, "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals(List.of("status", "steps", "total_steps", "loss", "eval_loss", "best_eval_loss", "best_step",
                "out"), List.copyOf(result.keys()));
        assertEquals("finished", result.requireString("status"));
        assertEquals(7, result.requireInt("steps"));
        for (String file : List.of(PeftAdapter.WEIGHTS_FILE, PeftAdapter.CONFIG_FILE, "training_state.safetensors")) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(file)), Files.readAllBytes(split.resolve(file)), file);
        }
        CliRun changed = CliRun.of("train", "--resume", split.toString(), "--steps", "9", "--lr", "0.1");
        assertEquals(Main.FAILED, changed.exitCode(), changed.describe());
        assertTrue(changed.err().startsWith("error: ") && changed.err().contains("--lr 0.1 (checkpoint: 0.3)"),
                changed.describe());

        CliRun generate = CliRun.of("generate", "--model", MODEL.toString(), "--prompt", whole.toString(),
                "--input-ids", "5,6,7", "--max-new-tokens", "4", "--temperature", "0");
        assertEquals(Main.OK, generate.exitCode(), generate.describe());
        assertEquals(4, generate.out().strip().split(" ").length, generate.describe());
    }

    private static String[] with(List<String> common, String... more) {
        List<String> args = new ArrayList<>(List.of("train"));
        args.addAll(common);
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    /** Runs train on {@code data} into a fresh folder, expecting exit 1 and one error line. */
    private String failure(Path data, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--model", MODEL.toString(), "--data", data.toString(),
                "--out", folder.resolve("out").toString(), "--steps", "2", "--device", "reference"));
        args.addAll(List.of(more));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertEquals(1, run.err().lines().count(), run.describe());
        assertTrue(run.err().startsWith("error: "), run.describe());
        return run.err().substring("error: ".length()).strip();
    }

    @Test
    void helpListsEveryFlag() {
        CliRun run = CliRun.of("train", "--help");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        for (String flag : List.of("--model=PATH", "--tokenizer=FILE", "--data=TRAIN.jsonl", "--eval=EVAL.jsonl",
                "--eval-split=SHARE", "--out=DIR", "--resume=DIR", "--virtual-tokens=N", "--init=SPEC",
                "--optimizer=NAME", "--lr=RATE", "--schedule=NAME", "--warmup=STEPS", "--batch=N", "--grad-accum=N",
                "--max-length=N", "--steps=N", "--epochs=N", "--clip=NORM", "--seed=S", "--eval-every=STEPS",
                "--save-every=STEPS", "--early-stop=PATIENCE", "--json", "--device=DEVICE", "--threads=N", "--debug")) {
            assertTrue(run.out().contains(flag), flag + " missing from\n" + run.out());
        }
    }

    @Test
    void badInputFailsWithOneLineNamingFileAndLine() throws IOException {
        Path empty = Files.writeString(folder.resolve("empty.jsonl"), "");
        assertTrue(failure(empty).startsWith(empty + ": the file is empty"));
        Path notJson = Files.writeString(folder.resolve("bad.jsonl"), "{\"input_ids\": [1, 2]}\n{\"input_ids\": [1,\n");
        assertTrue(failure(notJson).startsWith(notJson + ":2: not valid JSON"));
        Path neither = Files.writeString(folder.resolve("neither.jsonl"),
                "{\"input_ids\": [1, 2]}\n\n{\"prompt\": \"x\"}\n");
        assertTrue(failure(neither).startsWith(neither + ":3: the object has keys [prompt], which is neither form"));
        int[] ids = new int[28];
        Arrays.fill(ids, 7);
        Path tooLong = Files.writeString(folder.resolve("long.jsonl"),
                "{\"input_ids\": " + Arrays.toString(ids) + "}\n");
        assertEquals(tooLong + ":1: the example has 28 tokens, more than the 27 that fit (the model's context of 32"
                + " positions less the prompt's 5); shorten it", failure(tooLong, "--virtual-tokens", "5"));
        assertFalse(Files.exists(folder.resolve("out")), "a refused run writes nothing");

        Path data = randomData("train.jsonl", 4, 2);
        Path nanAdapter = Files.createDirectories(folder.resolve("nan-adapter"));
        Files.copy(ADAPTER.resolve(PeftAdapter.CONFIG_FILE), nanAdapter.resolve(PeftAdapter.CONFIG_FILE));
        float[] values = PeftAdapter.read(ADAPTER).embeddings();
        values[3] = Float.NaN;
        new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", values, 5, 16)
                .write(nanAdapter.resolve(PeftAdapter.WEIGHTS_FILE));
        assertEquals(nanAdapter.resolve(PeftAdapter.WEIGHTS_FILE) + ": prompt_embeddings[0, 3] is NaN; a prompt must be"
                + " finite (was training diverging?)", failure(data, "--init", "adapter:" + nanAdapter));
        String resumeNothing = failure(data, "--resume", folder.toString());
        assertTrue(resumeNothing.contains(folder + " has no training_state.safetensors"), resumeNothing);
        assertTrue(failure(data, "--init", "words").contains("--init 'words' is not one of"));
        assertTrue(failure(data, "--schedule", "constant", "--warmup", "3").contains("use 'warmup-constant'"));
    }

    @Test
    void missingFlagsAreUsageErrors() {
        CliRun run = CliRun.of("train", "--model", MODEL.toString());
        assertEquals(Main.USAGE, run.exitCode(), run.describe());
        assertEquals("error: train needs --model, --data and --out, or --resume DIR to continue a run (see 'promptgrad"
                + " train --help')\n", run.err());
        CliRun both = CliRun.of("train", "--steps", "3", "--epochs", "2");
        assertEquals(Main.USAGE, both.exitCode(), both.describe());
        assertTrue(both.err().contains("mutually exclusive"), both.describe());
    }
}
