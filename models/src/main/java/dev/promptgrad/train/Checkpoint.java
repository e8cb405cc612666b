package dev.promptgrad.train;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.prompt.PeftAdapter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A training output folder at one step: a PEFT adapter ({@code adapter_config.json},
 * {@code adapter_model.safetensors}) beside promptgrad's {@link TrainingState#FILE}, {@link MetricsLog#FILE},
 * the loss curve ({@link LossCurve#PNG_FILE}, {@link LossCurve#SVG_FILE}) and a small {@link #MARKER} written
 * last. Every file is replaced atomically, in this order: metrics, curves, training state, adapter weights,
 * adapter config, marker. The training state alone holds everything a resumed run needs, so a run stopped at
 * any moment leaves a usable checkpoint: the last complete training state, and an adapter that is that
 * state's or the one before. The marker names the step and the SHA-256 of the state and adapter weights it
 * belongs to, so a reader can tell whether the adapter matches the state. The held-out best prompt goes to
 * the {@link #BEST} subfolder, a PEFT adapter of its own.
 */
public final class Checkpoint {
    public static final String MARKER = "checkpoint.json";
    public static final String BEST = "best";
    static final String FORMAT = "promptgrad-checkpoint/1";
    private static final JsonLimits MARKER_LIMITS = JsonLimits.upTo(1 << 20);

    /** Sees each file of a checkpoint once it is in place; tests stop a save part-way through with it. */
    interface FileObserver {
        FileObserver NONE = file -> { };

        void written(Path file);
    }

    /** How the run stood when the checkpoint was written. */
    public enum Status {
        RUNNING, FINISHED, EARLY_STOPPED, INTERRUPTED;

        String jsonName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    private Checkpoint() {
    }

    /** Writes the whole checkpoint of {@code state} into {@code folder}, in the order the class comment gives. */
    static void save(Path folder, TrainingState state, TrainingConfig config, TrainingPlan plan, MetricsLog metrics,
                     PeftAdapter.TuningConfig adapter, Status status, String title, FileObserver observer) {
        metrics.write(folder.resolve(MetricsLog.FILE));
        observer.written(folder.resolve(MetricsLog.FILE));
        LossCurve.write(metrics, title, folder);
        observer.written(folder.resolve(LossCurve.SVG_FILE));
        Path stateFile = folder.resolve(TrainingState.FILE);
        state.writer(config).write(stateFile);
        observer.written(stateFile);
        PeftAdapter.write(folder, state.prompt, state.promptRows, state.width, adapter);
        observer.written(folder.resolve(PeftAdapter.CONFIG_FILE));

        Map<String, Object> marker = new LinkedHashMap<>();
        marker.put("format", FORMAT);
        marker.put("status", status.jsonName());
        marker.put("step", state.step);
        marker.put("total_steps", plan.totalSteps());
        marker.put("epoch", plan.epochAfter(state.step));
        MetricsLog.Entry last = metrics.isEmpty() ? null : metrics.last();
        marker.put("loss", last == null ? null : last.loss());
        marker.put("best_eval_loss", Double.isNaN(state.bestEvalLoss) ? null : state.bestEvalLoss);
        marker.put("best_step", state.bestStep < 0 ? null : state.bestStep);
        marker.put(TrainingState.FILE, sha256(stateFile));
        marker.put(PeftAdapter.WEIGHTS_FILE, sha256(folder.resolve(PeftAdapter.WEIGHTS_FILE)));
        Path markerFile = folder.resolve(MARKER);
        try {
            String text = JsonWriter.pretty().sortKeys(true).write(marker) + "\n";
            AtomicFile.write(markerFile, text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + markerFile + ": " + e.getMessage(), e);
        }
        observer.written(markerFile);
    }

    /** Writes {@code state}'s prompt as the PEFT adapter in {@code folder}/{@link #BEST}. */
    static void saveBest(Path folder, TrainingState state, PeftAdapter.TuningConfig adapter) {
        PeftAdapter.write(folder.resolve(BEST), state.prompt, state.promptRows, state.width, adapter);
    }

    /**
     * Whether the marker in {@code folder} belongs to the training state there: false when the last save
     * stopped after the state but before the marker (the adapter may then be one checkpoint older).
     */
    static boolean markerMatchesState(Path folder) {
        Path markerFile = folder.resolve(MARKER);
        if (!Files.isRegularFile(markerFile)) return false;
        JsonObject marker = Json.parseObjectFile(markerFile, MARKER_LIMITS);
        return sha256(folder.resolve(TrainingState.FILE)).equals(marker.stringOr(TrainingState.FILE, ""));
    }

    /** The configuration the run in {@code folder} was trained with. */
    public static TrainingConfig savedConfig(Path folder) {
        return TrainingState.savedConfig(folder.resolve(TrainingState.FILE));
    }

    static String sha256(Path file) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
