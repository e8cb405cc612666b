package dev.promptgrad.train;

import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.testing.Messages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A stopped run continues exactly: 10 steps equal 5 steps, a stop (the Ctrl-C path: the stop flag, then a
 * checkpoint), and 5 resumed steps, bit for bit, for AdamW and Adafactor with a cosine schedule, warm-up,
 * accumulation, clipping and evaluation; and a save cut off after any of its files still resumes to the same bytes.
 */
class ResumeTest {
    private static final List<String> COMPARED = List.of(TrainingState.FILE, PeftAdapter.WEIGHTS_FILE,
            PeftAdapter.CONFIG_FILE, Checkpoint.BEST + "/" + PeftAdapter.WEIGHTS_FILE);

    @TempDir
    Path folder;

    @ParameterizedTest
    @EnumSource(TrainingConfig.OptimizerKind.class)
    void stoppingAndResumingEqualsOneRun(TrainingConfig.OptimizerKind optimizer) {
        TrainingConfig config = TinyRuns.config(optimizer).build();
        TrainingData data = TinyRuns.data();
        Path whole = folder.resolve("whole"), split = folder.resolve("split");
        TrainingResult wholeResult = TinyRuns.run(config, data, whole);
        assertEquals(Checkpoint.Status.FINISHED, wholeResult.status());

        TinyRuns.Outcome stopped = TinyRuns.run(ReferenceBackend::new, config, data, split, null, 5,
                Checkpoint.FileObserver.NONE);
        assertNull(stopped.failure());
        assertEquals(Checkpoint.Status.INTERRUPTED, stopped.result().status());
        assertEquals(5, stopped.result().steps());
        assertTrue(Checkpoint.markerMatchesState(split));
        assertFalse(java.util.Arrays.equals(TinyRuns.bytes(whole.resolve(PeftAdapter.WEIGHTS_FILE)),
                TinyRuns.bytes(split.resolve(PeftAdapter.WEIGHTS_FILE))), "5 steps are not 10");

        TinyRuns.Outcome resumed = TinyRuns.run(ReferenceBackend::new, config, data, split, split, 0,
                Checkpoint.FileObserver.NONE);
        assertNull(resumed.failure());
        assertEquals(Checkpoint.Status.FINISHED, resumed.result().status());
        assertEquals(wholeResult.bestStep(), resumed.result().bestStep());
        assertEquals(wholeResult.bestEvalLoss(), resumed.result().bestEvalLoss());
        for (String file : COMPARED) {
            assertArrayEquals(TinyRuns.bytes(whole.resolve(file)), TinyRuns.bytes(split.resolve(file)), file);
        }
        MetricsLog metrics = MetricsLog.read(split.resolve(MetricsLog.FILE), Integer.MAX_VALUE);
        MetricsLog wholeMetrics = MetricsLog.read(whole.resolve(MetricsLog.FILE), Integer.MAX_VALUE);
        assertEquals(wholeMetrics.entries().size(), metrics.entries().size());
        for (int i = 0; i < metrics.entries().size(); i++) {
            MetricsLog.Entry a = wholeMetrics.entries().get(i), b = metrics.entries().get(i);
            assertEquals(a.step(), b.step());
            assertEquals(a.loss(), b.loss(), "step " + a.step());
            assertEquals(a.evalLoss(), b.evalLoss(), "step " + a.step());
            assertEquals(a.lr(), b.lr(), "step " + a.step());
        }
    }

    /**
     * Saves happen before the first step, at steps 4 and 8 and at the end (10), seven files each (metrics, the two
     * loss curves, training state, adapter weights and config, marker); the save of step 8 is cut off once
     * {@code filesWritten} of them are in place, as a kill would leave it (7: the save completed, and the kill came
     * during the next steps).
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7})
    void aSaveCutOffAnywhereStillResumesToTheSameBytes(int filesWritten) throws IOException {
        TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAFACTOR).build();
        TrainingData data = TinyRuns.data();
        Path whole = folder.resolve("whole"), killed = folder.resolve("killed");
        TinyRuns.run(config, data, whole);
        int[] seen = {0};
        TinyRuns.Outcome cut = TinyRuns.run(ReferenceBackend::new, config, data, killed, null, 0, file -> {
            if (++seen[0] == 14 + filesWritten) {
                throw new IllegalStateException("killed after " + file.getFileName());
            }
        });
        assertNotNull(cut.failure(), "the run must have been cut off");
        assertTrue(cut.failure().getMessage().startsWith("killed after"), cut.failure().getMessage());
        try (var names = Files.list(killed)) {
            assertTrue(names.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary file is left");
        }
        boolean stateAheadOfMarker = filesWritten >= 4 && filesWritten <= 6;
        assertEquals(!stateAheadOfMarker, Checkpoint.markerMatchesState(killed));
        TinyRuns.Outcome resumed = TinyRuns.run(ReferenceBackend::new, config, data, killed, killed, 0,
                Checkpoint.FileObserver.NONE);
        assertNull(resumed.failure());
        assertEquals(10, resumed.result().steps());
        for (String file : COMPARED) {
            assertArrayEquals(TinyRuns.bytes(whole.resolve(file)), TinyRuns.bytes(killed.resolve(file)), file);
        }
    }

    @Test
    void refusesAStateWithNaNOtherSettingsOrOtherData() throws IOException {
        TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAMW).steps(4).build();
        TrainingData data = TinyRuns.data();
        Path run = folder.resolve("run");
        TinyRuns.run(config, data, run);

        TrainingConfig otherRate = config.toBuilder().lr(0.5).steps(8).build();
        TinyRuns.Outcome otherLr = TinyRuns.run(ReferenceBackend::new, otherRate, data, run, run, 0,
                Checkpoint.FileObserver.NONE);
        Messages.assertMentions(otherLr.failure(), run.resolve(TrainingState.FILE).toString(),
                "--lr 0.5 (checkpoint: 0.01)");
        TinyRuns.Outcome otherData = TinyRuns.run(ReferenceBackend::new, config.toBuilder().steps(8).build(),
                TrainingData.of(TinyRuns.examples(12, 99), TinyRuns.examples(4, 8)), run, run, 0,
                Checkpoint.FileObserver.NONE);
        Messages.assertMentions(otherData.failure(), "trained on other examples", "same --data");

        Path stateFile = run.resolve(TrainingState.FILE);
        SafetensorsWriter poisoned = new SafetensorsWriter();
        try (SafetensorsFile state = SafetensorsFile.open(stateFile)) {
            state.metadata().forEach(poisoned::metadata);
            for (String name : state.names()) {
                float[] values = state.readFloats(name);
                if (name.equals(PeftAdapter.TENSOR)) values[17] = Float.NaN;
                int[] shape = java.util.Arrays.stream(state.info(name).shape()).mapToInt(Math::toIntExact).toArray();
                poisoned.add(name, values, shape);
            }
        }
        poisoned.write(stateFile);
        TinyRuns.Outcome nan = TinyRuns.run(ReferenceBackend::new, config.toBuilder().steps(8).build(), data, run, run,
                0, Checkpoint.FileObserver.NONE);
        assertTrue(nan.failure() instanceof TrainingStateException, String.valueOf(nan.failure()));
        Messages.assertMentions(nan.failure(), stateFile.toString(), "prompt_embeddings[1, 1] is NaN");
    }
}
