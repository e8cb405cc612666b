package dev.promptgrad.cli;

import dev.promptgrad.train.Checkpoint;
import dev.promptgrad.train.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code train --on-nonfinite} and {@code --max-nonfinite}: their defaults, their echo in the checkpoint, a new limit
 * on --resume, and the refusal of bad values. What they do to a run is NonFiniteStepTest's.
 */
class TrainNonFiniteFlagsTest {
    private static final String MODEL = "src/test/resources/fixtures/gpt2-tiny";

    @TempDir
    Path folder;

    @Test
    void theSettingsAreEchoedAndMayChangeOnResume() throws IOException {
        Path data = Files.write(folder.resolve("train.jsonl"), List.of(
                "{\"input_ids\": [5, 6, 7, 8], \"labels\": [-100, -100, 7, 8]}",
                "{\"input_ids\": [9, 10, 11], \"labels\": [-100, 10, 11]}"));
        Path plain = folder.resolve("plain"), strict = folder.resolve("strict");
        CliRun defaults = CliRun.of("train", "--model", MODEL, "--data", data.toString(), "--out", plain.toString(),
                "--virtual-tokens", "2", "--steps", "1", "--device", "reference");
        assertEquals(0, defaults.exitCode(), defaults.err());
        TrainingConfig saved = Checkpoint.savedConfig(plain);
        assertEquals(TrainingConfig.NonFiniteAction.SKIP, saved.onNonFinite());
        assertEquals(3, saved.maxNonFinite());

        CliRun stop = CliRun.of("train", "--model", MODEL, "--data", data.toString(), "--out", strict.toString(),
                "--virtual-tokens", "2", "--steps", "1", "--device", "reference", "--on-nonfinite", "stop",
                "--max-nonfinite", "5");
        assertEquals(0, stop.exitCode(), stop.err());
        assertEquals(TrainingConfig.NonFiniteAction.STOP, Checkpoint.savedConfig(strict).onNonFinite());
        assertEquals(5, Checkpoint.savedConfig(strict).maxNonFinite());
        CliRun resumed = CliRun.of("train", "--resume", strict.toString(), "--steps", "2", "--on-nonfinite", "skip",
                "--max-nonfinite", "7", "--device", "reference");
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertEquals(TrainingConfig.NonFiniteAction.SKIP, Checkpoint.savedConfig(strict).onNonFinite());
        assertEquals(7, Checkpoint.savedConfig(strict).maxNonFinite());

        CliRun unknown = CliRun.of("train", "--resume", strict.toString(), "--on-nonfinite", "ignore");
        assertEquals(1, unknown.exitCode());
        assertEquals("error: --on-nonfinite 'ignore' is not skip or stop\n", unknown.err());
        CliRun zero = CliRun.of("train", "--resume", strict.toString(), "--max-nonfinite", "0");
        assertEquals(1, zero.exitCode());
        assertTrue(zero.err().startsWith("error: --max-nonfinite must be at least 1, got 0"), zero.err());
    }
}
