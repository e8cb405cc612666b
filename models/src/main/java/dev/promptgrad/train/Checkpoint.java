package dev.promptgrad.train;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.io.DiskFullException;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.SafetensorsWriter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A training output folder at one step: a PEFT adapter ({@code adapter_config.json},
 * {@code adapter_model.safetensors}) beside promptgrad's {@link TrainingState#FILE}, {@link MetricsLog#FILE},
 * the loss curve ({@link LossCurve#PNG_FILE}, {@link LossCurve#SVG_FILE}) and a small {@link #MARKER} written
 * last. A save writes every file completely to a temporary file first, and only then renames them over the
 * old ones, in this order: metrics, curves, training state, adapter weights, adapter config, marker; so a
 * failure while writing (a full disk) replaces nothing. The training state alone holds everything a resumed
 * run needs, so a run stopped at any moment leaves a usable checkpoint: the last complete training state, and
 * an adapter that is that state's or the one before. The marker names the step and the SHA-256 of the state
 * and adapter weights it belongs to, so a reader can tell whether the adapter matches the state. The held-out
 * best prompt goes to the {@link #BEST} subfolder, a PEFT adapter of its own.
 */
public final class Checkpoint {
    public static final String MARKER = "checkpoint.json";
    public static final String BEST = "best";
    static final String FORMAT = "promptgrad-checkpoint/1";
    private static final JsonLimits MARKER_LIMITS = JsonLimits.upTo(1 << 20);

    /**
     * Sees each file of a checkpoint once it is in place, and before its temporary file is written; tests stop a
     * save part-way through with it, or make a write fail as a full disk would.
     */
    interface FileObserver {
        FileObserver NONE = file -> { };

        void written(Path file);

        /** Before {@code file}'s new content is written to its temporary file; may throw as the write would. */
        default void staging(Path file) throws IOException {
        }
    }

    /** How the run stood when the checkpoint was written. */
    public enum Status {
        RUNNING, FINISHED, EARLY_STOPPED, INTERRUPTED,
        /** Stopped at a step whose loss or gradient was not finite; the checkpoint holds the last finite prompt. */
        DIVERGED;

        String jsonName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    private Checkpoint() {
    }

    /**
     * Writes the whole checkpoint of {@code state} into {@code folder}: every file is first written completely
     * to its temporary file, and only then are they renamed over the old ones, in the order the class comment
     * gives. A failure while writing (a full disk) therefore replaces nothing.
     *
     * @throws UncheckedIOException saying which file could not be written and that the folder is as it was
     */
    static void save(Path folder, TrainingState state, TrainingConfig config, TrainingPlan plan, MetricsLog metrics,
                     PeftAdapter.TuningConfig adapter, Status status, String title, FileObserver observer) {
        byte[] stateBytes = bytes(state.writer(config));
        byte[] weightsBytes = bytes(PeftAdapter.weights(folder, state.prompt, state.promptRows, state.width));
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
        marker.put("skipped_steps", state.skippedSteps);
        marker.put(TrainingState.FILE, sha256(stateBytes));
        marker.put(PeftAdapter.WEIGHTS_FILE, sha256(weightsBytes));

        Map<Path, byte[]> files = new LinkedHashMap<>();
        files.put(folder.resolve(MetricsLog.FILE), utf8(metrics.text()));
        files.put(folder.resolve(LossCurve.PNG_FILE), LossCurve.png(metrics, title));
        files.put(folder.resolve(LossCurve.SVG_FILE), utf8(LossCurve.svg(metrics, title)));
        files.put(folder.resolve(TrainingState.FILE), stateBytes);
        files.put(folder.resolve(PeftAdapter.WEIGHTS_FILE), weightsBytes);
        files.put(folder.resolve(PeftAdapter.CONFIG_FILE),
                utf8(PeftAdapter.configJson(state.promptRows, state.width, adapter)));
        files.put(folder.resolve(MARKER), utf8(JsonWriter.pretty().sortKeys(true).write(marker) + "\n"));
        writeAll(folder, files, observer);
    }

    /** Writes {@code state}'s prompt as the PEFT adapter in {@code folder}/{@link #BEST}, weights then config. */
    static void saveBest(Path folder, TrainingState state, PeftAdapter.TuningConfig adapter) {
        Path best = folder.resolve(BEST);
        byte[] weights = bytes(PeftAdapter.weights(best, state.prompt, state.promptRows, state.width));
        try {
            Files.createDirectories(best);
        } catch (IOException e) {
            throw new UncheckedIOException(nothingReplaced(folder, e), e);
        }
        Map<Path, byte[]> files = new LinkedHashMap<>();
        files.put(best.resolve(PeftAdapter.WEIGHTS_FILE), weights);
        files.put(best.resolve(PeftAdapter.CONFIG_FILE),
                utf8(PeftAdapter.configJson(state.promptRows, state.width, adapter)));
        writeAll(folder, files, FileObserver.NONE);
    }

    /**
     * Stages every file of {@code files}, then renames them into place in order, telling {@code observer} after
     * each. A failure while staging deletes the temporaries and leaves every target as it was; a failure (or a
     * kill) while renaming leaves the files before it new and those after it old.
     */
    private static void writeAll(Path folder, Map<Path, byte[]> files, FileObserver observer) {
        List<AtomicFile.Staged> staged = new ArrayList<>(files.size());
        Throwable failure = null;
        try {
            try {
                for (Map.Entry<Path, byte[]> file : files.entrySet()) {
                    observer.staging(file.getKey());
                    staged.add(AtomicFile.stage(file.getKey(), file.getValue()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(nothingReplaced(folder, e), e);
            }
            for (AtomicFile.Staged file : staged) {
                try {
                    file.move();
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot move " + file.target() + " into place (" + e.getMessage()
                            + "); the files of " + folder + " before it are new, those after it old, and --resume "
                            + folder + " continues from its training state", e);
                }
                observer.written(file.target());
            }
            staged.stream().map(file -> file.target().getParent()).distinct().forEach(AtomicFile::forceFolder);
        } catch (RuntimeException | Error e) {
            failure = e;
            throw e;
        } finally {
            for (AtomicFile.Staged file : staged) {
                try {
                    file.close();
                } catch (IOException e) {
                    if (failure != null) failure.addSuppressed(e);
                }
            }
        }
    }

    /**
     * Deletes the temporary files a save killed part-way leaves in {@code folder} and its {@link #BEST} subfolder
     * (see {@link AtomicFile#deleteLeftovers}); the checkpoint's own files are untouched.
     */
    static void deleteLeftovers(Path folder) {
        try {
            AtomicFile.deleteLeftovers(folder);
            AtomicFile.deleteLeftovers(folder.resolve(BEST));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean the temporary files of an earlier save out of " + folder
                    + ": " + e.getMessage(), e);
        }
    }

    /** The message of a checkpoint file that could not be written, before any file of {@code folder} was replaced. */
    private static String nothingReplaced(Path folder, IOException e) {
        String what = e instanceof DiskFullException ? e.getMessage()
                : "cannot write the checkpoint in " + folder + ": " + e.getMessage();
        return what + "; nothing in " + folder + " was replaced, so " + (Files.isRegularFile(folder.resolve(
                TrainingState.FILE)) ? "its previous checkpoint is intact: " + (e instanceof DiskFullException
                ? "free some space" : "fix that") + ", then continue with promptgrad train --resume " + folder
                : "it holds no checkpoint yet");
    }

    private static byte[] bytes(SafetensorsWriter writer) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.writeTo(Channels.newChannel(out));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise a safetensors file in memory: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
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
            return sha256(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
