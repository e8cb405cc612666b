package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.testing.SharedFiles;
import dev.promptgrad.train.Checkpoint;
import dev.promptgrad.train.MetricsLog;
import dev.promptgrad.train.TrainingState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code kill -9} during {@code promptgrad train} loses nothing: a run on stories260K in a child JVM is killed with
 * SIGKILL ({@link Process#destroyForcibly}) at a seeded random moment (a random step after its latest checkpoint,
 * then a random part of a step, so that kills land in steps, evaluations and saves), resumed with
 * {@code --resume} in a new child, killed again, three times over, saving at every step or every other one; the
 * last {@code --resume} then ends with the same adapter, best adapter and training state, bit for bit, as a run
 * that was never killed, and no temporary file is left behind.
 */
class KillAndResumeTest {
    private static final int STEPS = 30;
    private static final long SEED = 9;
    private static final int KILLS = 3;
    private static final List<String> COMPARED = List.of(PeftAdapter.WEIGHTS_FILE, PeftAdapter.CONFIG_FILE,
            TrainingState.FILE, Checkpoint.BEST + "/" + PeftAdapter.WEIGHTS_FILE,
            Checkpoint.BEST + "/" + PeftAdapter.CONFIG_FILE);

    @TempDir
    Path folder;

    @Test
    void killedThreeTimesAtRandomMomentsAndResumedItEndsWithTheSamePromptBitForBit() throws Exception {
        Path data = tokenIdData();
        Path whole = folder.resolve("whole"), killed = folder.resolve("killed");
        long started = System.nanoTime();
        List<String> referenceArgs = new ArrayList<>(List.of(train(data, whole)));
        referenceArgs.addAll(List.of("--save-every", "1"));
        CliRun reference = CliRun.of(referenceArgs.toArray(String[]::new));
        double secondsPerStep = (System.nanoTime() - started) / 1e9 / STEPS;
        assertEquals(0, reference.exitCode(), reference::describe);

        Random random = new Random(SEED);
        List<String> kills = new ArrayList<>();
        int resumedAt = -1;
        for (int kill = 0; kill < KILLS; kill++) {
            int saveEvery = kill == 1 ? 2 : 1;
            List<String> args = new ArrayList<>(List.of(kill == 0 ? train(data, killed)
                    : new String[] {"train", "--resume", killed.toString(), "--threads", "1"}));
            args.addAll(List.of("--save-every", String.valueOf(saveEvery)));
            int killAfter = resumedAt + 2 + random.nextInt(6);
            long jitterMicros = (long) (random.nextDouble() * 2 * saveEvery * secondsPerStep * 1e6);
            String when = "kill " + kill + " (after the checkpoint of step " + killAfter + " + " + jitterMicros
                    + " µs; before it, " + kills + ")";
            Path log = folder.resolve("child-" + kill + ".log");
            Process child = startChild(args, log);
            try {
                waitForCheckpoint(child, killed, killAfter, log);
                TimeUnit.MICROSECONDS.sleep(jitterMicros);
                assertTrue(child.isAlive(), () -> when + ": the run ended before it could be killed:\n" + text(log));
                child.destroyForcibly();
                assertTrue(child.waitFor(30, TimeUnit.SECONDS), when + ": the child did not die");
            } finally {
                child.destroyForcibly();
            }
            assertEquals(128 + 9, child.exitValue(), when + ": the child must have died of SIGKILL");
            resumedAt = savedStep(killed);
            kills.add("killed at step " + resumedAt + (temporaries(killed).isEmpty() ? "" : " during a save"));
        }

        CliRun resumed = CliRun.of("train", "--resume", killed.toString(), "--threads", "1", "--save-every", "1");
        assertEquals(0, resumed.exitCode(), () -> kills + ": " + resumed.describe());
        for (String file : COMPARED) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(file)), Files.readAllBytes(killed.resolve(file)),
                    kills + ": " + file);
        }
        assertEquals(List.of(), temporaries(killed), kills + ": temporaries left");
        assertEquals(numbers(whole), numbers(killed), kills + ": metrics.jsonl");
    }

    /** metrics.jsonl without tokens_per_s, the one value that differs between identical runs. */
    private static List<List<Object>> numbers(Path out) {
        List<List<Object>> numbers = new ArrayList<>();
        for (MetricsLog.Entry e : MetricsLog.read(out.resolve(MetricsLog.FILE), Integer.MAX_VALUE).entries()) {
            numbers.add(Arrays.asList(e.step(), e.epoch(), e.loss(), e.evalLoss(), e.lr(), e.gradNorm(), e.skipped()));
        }
        return numbers;
    }

    /** The step of the training state in {@code out}. */
    private static int savedStep(Path out) {
        try (SafetensorsFile state = SafetensorsFile.open(out.resolve(TrainingState.FILE))) {
            String progress = state.metadata().get("progress");
            return JsonObject.of(Json.parse(progress, "progress", JsonLimits.upTo(1 << 20)), "progress")
                    .requireInt("step");
        }
    }

    /** {@code promptgrad train} on stories260K: 8 virtual tokens, batch 4, a quarter held out, evaluated every 5. */
    private static String[] train(Path data, Path out) {
        return new String[] {"train", "--model", SharedFiles.stories260K().toString(), "--data", data.toString(),
                "--out", out.toString(), "--virtual-tokens", "8", "--batch", "4", "--steps", String.valueOf(STEPS),
                "--eval-split", "0.25", "--eval-every", "5", "--seed", "3", "--threads", "1"};
    }

    /** 16 lines of stories260K token ids (vocabulary 512) after BOS (1), the second half of each scored. */
    private Path tokenIdData() throws IOException {
        Random random = new Random(SEED);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            int[] ids = new int[8 + random.nextInt(9)];
            ids[0] = 1;
            for (int t = 1; t < ids.length; t++) ids[t] = 3 + random.nextInt(509);
            int[] labels = ids.clone();
            Arrays.fill(labels, 0, ids.length / 2, -100);
            lines.add("{\"input_ids\": " + Arrays.toString(ids) + ", \"labels\": " + Arrays.toString(labels) + "}");
        }
        return Files.write(folder.resolve("train.jsonl"), lines);
    }

    /** {@code java -cp <this test's class path> dev.promptgrad.cli.Main ARGS}, its output to {@code log}. */
    private static Process startChild(List<String> args, Path log) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xmx512m", "-Djava.awt.headless=true", "-cp",
                System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(args);
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Waits until the checkpoint marker in {@code out} names step {@code step} or later. */
    private static void waitForCheckpoint(Process child, Path out, int step, Path log) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
        while (markerStep(out) < step) {
            if (!child.isAlive()) {
                fail("the run ended (exit " + child.exitValue() + ") before step " + step + ":\n" + text(log));
            }
            if (System.nanoTime() > deadline) fail("no checkpoint of step " + step + " within 40 s:\n" + text(log));
            Thread.sleep(1);
        }
    }

    /** The step of {@code out}'s checkpoint marker; -1 before the first. */
    private static int markerStep(Path out) {
        Path marker = out.resolve(Checkpoint.MARKER);
        if (!Files.isRegularFile(marker)) return -1;
        try {
            return Json.parseObjectFile(marker, JsonLimits.upTo(1 << 20)).requireInt("step");
        } catch (JsonException | UncheckedIOException renamedMeanwhile) {
            return -1;
        }
    }

    private static String text(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(" + log + " cannot be read: " + e.getMessage() + ")";
        }
    }

    private static List<Path> temporaries(Path out) throws IOException {
        try (Stream<Path> files = Files.walk(out)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }
}
