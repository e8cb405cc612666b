package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.testing.TinyBert;
import dev.promptgrad.train.Checkpoint;
import dev.promptgrad.train.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad train --objective classify|contrastive} end to end on the tiny BERT (reference backend): a classify
 * run writes a FEATURE_EXTRACTION adapter and reports held-out accuracy, a stopped run resumed gives the same prompt
 * as one run, embed reads the placement back from the folder, contrastive trains on pairs; and each mismatch
 * (unlabelled data, a causal LM with an encoder objective, an encoder with the causal LM objective, encoder flags
 * for a causal LM) fails with one line saying what to do, leaving no output folder.
 */
class EncoderTrainCommandTest {
    private static final Path GPT2_TINY = Path.of("src/test/resources/fixtures/gpt2-tiny");
    private static final Map<String, List<String>> TOPICS = Map.of(
            "sports", List.of("ball", "goal", "team", "match", "score", "coach"),
            "cooking", List.of("bread", "oven", "soup", "salt", "bake", "pan", "sugar"),
            "tech", List.of("phone", "code", "app", "screen", "data", "laptop", "wifi"),
            "health", List.of("doctor", "sleep", "fever", "pain", "nurse"),
            "travel", List.of("flight", "train", "hotel", "beach", "passport", "map"));
    private static final List<String> FILLERS = List.of("the", "a", "is", "was", "good", "bad", "new", "old", "we",
            "they");

    @TempDir
    Path folder;

    /** {@code count} texts of three topic words and a filler, labelled with the topic, as JSONL. */
    private Path labelled(String name, int count, long seed) throws IOException {
        Random random = new Random(seed);
        List<String> topics = List.copyOf(new TreeSet<>(TOPICS.keySet()));
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String topic = topics.get(i % topics.size());
            List<String> words = TOPICS.get(topic);
            String text = FILLERS.get(random.nextInt(FILLERS.size())) + " "
                    + words.get(random.nextInt(words.size())) + " "
                    + words.get(random.nextInt(words.size())) + " " + FILLERS.get(random.nextInt(FILLERS.size()));
            lines.add("{\"text\": \"" + text + "\", \"label\": \"" + topic + "\"}");
        }
        return Files.write(folder.resolve(name), lines);
    }

    private static String[] args(Path model, Path data, String... more) {
        List<String> all = new ArrayList<>(List.of("train", "--model", model.toString(), "--data", data.toString(),
                "--device", "reference", "--virtual-tokens", "3", "--batch", "5", "--lr", "0.1", "--seed", "4"));
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    @Test
    void classifyWritesAFeatureExtractionAdapterAndResumesExactly() throws IOException {
        Path model = TinyBert.folder(folder);
        Path train = labelled("train.jsonl", 20, 1), eval = labelled("eval.jsonl", 10, 2);
        Path whole = folder.resolve("whole");
        CliRun run = CliRun.of(args(model, train, "--objective", "classify", "--placement", "after-cls", "--eval",
                eval.toString(), "--steps", "6", "--out", whole.toString()));
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertTrue(run.out().contains("held-out accuracy: ") && run.out().contains(" of 10) with the prompt"),
                run.describe());
        JsonObject config = Json.parseObjectFile(whole.resolve(PeftAdapter.CONFIG_FILE), JsonLimits.upTo(1 << 20));
        assertEquals("FEATURE_EXTRACTION", config.requireString("task_type"));
        assertEquals(model.toString(), config.requireString("base_model_name_or_path"));
        assertEquals(3, PeftAdapter.read(whole).virtualTokens());
        TrainingConfig saved = Checkpoint.savedConfig(whole);
        assertEquals(TrainingConfig.Objective.Kind.CLASSIFY, saved.objective().kind());
        assertEquals("after-cls", saved.objective().placement().cliName());

        Path stopped = folder.resolve("stopped");
        CliRun first = CliRun.of(args(model, train, "--objective", "classify", "--placement", "after-cls", "--eval",
                eval.toString(), "--steps", "3", "--out", stopped.toString()));
        assertEquals(Main.OK, first.exitCode(), first.describe());
        CliRun resumed = CliRun.of("train", "--resume", stopped.toString(), "--steps", "6", "--device", "reference");
        assertEquals(Main.OK, resumed.exitCode(), resumed.describe());
        assertArrayEquals(PeftAdapter.read(whole).embeddings(), PeftAdapter.read(stopped).embeddings(),
                "3 steps, then 3 more after --resume, give the prompt of one 6-step run");

        List<String> text = List.of("--model", model.toString(), "--text", "the team score a goal", "--device",
                "reference");
        CliRun saved1 = CliRun.of(concat(List.of("embed", "--prompt", whole.toString()), text));
        CliRun afterCls = CliRun.of(concat(List.of("embed", "--prompt", whole.toString(), "--placement", "after-cls"),
                text));
        CliRun beforeCls = CliRun.of(concat(List.of("embed", "--prompt", whole.toString(), "--placement", "before-cls"),
                text));
        assertEquals(afterCls.out(), saved1.out(), "embed places the prompt as its training run did");
        assertFalse(beforeCls.out().equals(saved1.out()), "and the placement changes the embedding");
    }

    private static String[] concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all.toArray(String[]::new);
    }

    @Test
    void contrastiveTrainsOnPairs() throws IOException {
        Path model = TinyBert.folder(folder);
        List<String> lines = new ArrayList<>();
        for (String[] pair : new String[][] {{"ball", "the team score a goal"}, {"bread", "bake in the oven"},
                {"phone", "the app on the screen"}, {"fever", "the doctor and the nurse"},
                {"flight", "a hotel on the beach"}}) {
            lines.add("{\"query\": \"" + pair[0] + "\", \"positive\": \"" + pair[1] + "\"}");
        }
        Path pairs = Files.write(folder.resolve("pairs.jsonl"), lines);
        Path out = folder.resolve("pairs-run");
        CliRun run = CliRun.of(args(model, pairs, "--objective", "contrastive", "--steps", "2", "--json", "--out",
                out.toString()));
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<String> printed = run.out().strip().lines().toList();   // progress lines, then the JSON summary
        JsonObject summary = JsonObject.of(Json.parse(printed.get(printed.size() - 1), "train --json",
                JsonLimits.upTo(1 << 20)), "out");
        assertEquals("finished", summary.requireString("status"));
        assertTrue(summary.requireDouble("loss") > 0, run.describe());
        assertEquals(TrainingConfig.Objective.Kind.CONTRASTIVE, Checkpoint.savedConfig(out).objective().kind());
    }

    /** Runs {@code args}, expecting a failure whose one error line holds every fragment, and no output folder. */
    private void refused(String[] args, Path out, String... fragments) {
        CliRun run = CliRun.of(args);
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertTrue(run.err().startsWith("error: ") && run.err().strip().lines().count() == 1, run.describe());
        for (String fragment : fragments) {
            assertTrue(run.err().contains(fragment), "'" + fragment + "' in " + run.describe());
        }
        assertFalse(Files.exists(out), out + " is not created");
    }

    @Test
    void mismatchedObjectivesModelsAndDataAreRefused() throws IOException {
        Path model = TinyBert.folder(folder);
        Path out = folder.resolve("out");
        Path unlabelled = Files.writeString(folder.resolve("texts.jsonl"),
                "{\"text\": \"the goal\", \"label\": \"sports\"}\n{\"text\": \"the team\"}\n");
        refused(args(model, unlabelled, "--objective", "classify", "--out", out.toString()), out,
                unlabelled + ":2:", "no \"label\"", "--objective classify");
        Path labelled = labelled("labelled.jsonl", 6, 3);
        refused(args(GPT2_TINY, labelled, "--objective", "classify", "--out", out.toString()), out,
                "--objective classify trains an encoder's prompt", "is a causal language model");
        refused(args(model, labelled, "--out", out.toString()), out, "is an encoder (BERT)", "--objective classify");
        refused(args(Path.of("minilm"), labelled, "--out", out.toString()), out, "minilm is an encoder");
        refused(args(GPT2_TINY, labelled, "--placement", "after-cls", "--out", out.toString()), out,
                "are for encoder objectives");
        refused(args(model, labelled, "--objective", "classify", "--label-text", "no placeholder", "--out",
                out.toString()), out, "must contain {label}");
        refused(args(model, labelled, "--objective", "regress", "--out", out.toString()), out,
                "'regress' is not one of causal-lm, classify, contrastive");
    }
}
