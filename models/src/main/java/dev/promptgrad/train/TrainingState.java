package dev.promptgrad.train;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.optim.Adafactor;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Optimizer;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.safetensors.SafetensorsException;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything a run needs to continue exactly where it stopped, and its file {@code training_state.safetensors}:
 * the prompt (F32 {@code prompt_embeddings} [P, dim]), the optimizer's moments (F32 {@code optimizer.<slot>},
 * flat, with torch's slot names, e.g. {@code optimizer.prompt_embeddings.exp_avg}), and in {@code __metadata__}
 * the configuration echo ({@code config}, JSON) and the progress ({@code progress}, JSON: step, optimizer steps,
 * the data cursor (epoch, position) that with the seed is the whole shuffling state, the best held-out loss and
 * its step, evaluations since it, the skipped non-finite steps (all, and the latest in a row), the data
 * fingerprint). Mutable; one per run.
 */
public final class TrainingState {
    public static final String FILE = "training_state.safetensors";
    static final String FORMAT = "promptgrad-training-state/1";
    private static final String OPTIMIZER_PREFIX = "optimizer.";
    private static final JsonLimits METADATA_LIMITS = JsonLimits.upTo(16L << 20);

    final int promptRows;
    final int width;
    final float[] prompt;           // (promptRows, width) row-major, updated in place by each step
    final Optimizer optimizer;
    final String dataFingerprint;
    int step;
    int epoch;                      // the data cursor: epoch number ...
    int position;                   // ... and the next index into its shuffled order
    double bestEvalLoss = Double.NaN;
    int bestStep = -1;
    int evalsSinceBest;
    int skippedSteps;               // steps whose loss or gradient was not finite, skipped in the whole run
    int nonFiniteInARow;            // ... and how many of the latest steps in a row were such

    TrainingState(TrainingConfig config, int promptRows, int width, float[] prompt, String dataFingerprint) {
        if (prompt.length != promptRows * width) {
            throw new IllegalArgumentException("a prompt of " + promptRows + " × " + width + " has " + prompt.length
                    + " values");
        }
        this.promptRows = promptRows;
        this.width = width;
        this.prompt = prompt.clone();
        this.optimizer = newOptimizer(config.optimizer(), promptRows, width);
        this.dataFingerprint = dataFingerprint;
    }

    /** The optimizer {@code kind} over one [rows, width] parameter named {@code prompt_embeddings}. */
    static Optimizer newOptimizer(TrainingConfig.OptimizerKind kind, int rows, int width) {
        List<Parameter> parameters = List.of(Parameter.of(PeftAdapter.TENSOR, rows, width));
        return switch (kind) {
            case ADAMW -> new Adam(parameters, Adam.Settings.ADAMW);
            case ADAFACTOR -> new Adafactor(parameters, Adafactor.Settings.LESTER_PROMPT_TUNING);
        };
    }

    public int step() {
        return step;
    }

    /** A copy of the prompt, (P, dim) row-major. */
    public float[] prompt() {
        return prompt.clone();
    }

    /** The lowest held-out loss so far, NaN before the first evaluation. */
    public double bestEvalLoss() {
        return bestEvalLoss;
    }

    /** The step of {@link #bestEvalLoss()}, -1 before the first evaluation. */
    public int bestStep() {
        return bestStep;
    }

    /** Steps skipped so far because their loss or gradient was not finite. */
    public int skippedSteps() {
        return skippedSteps;
    }

    /** The safetensors file of this state under {@code config}. */
    SafetensorsWriter writer(TrainingConfig config) {
        Map<String, Object> progress = new LinkedHashMap<>();
        progress.put("step", step);
        progress.put("optimizer", optimizer.name());
        progress.put("optimizer_steps", optimizer.steps());
        progress.put("epoch", epoch);
        progress.put("epoch_position", position);
        progress.put("shuffle_seed", config.seed());
        progress.put("best_eval_loss", Double.isNaN(bestEvalLoss) ? null : bestEvalLoss);
        progress.put("best_step", bestStep < 0 ? null : bestStep);
        progress.put("evals_since_best", evalsSinceBest);
        progress.put("skipped_steps", skippedSteps);
        progress.put("nonfinite_in_a_row", nonFiniteInARow);
        progress.put("data_sha256", dataFingerprint);
        SafetensorsWriter writer = new SafetensorsWriter()
                .metadata("format", "pt")
                .metadata("promptgrad", FORMAT)
                .metadata("config", JsonWriter.compact().write(config.toJson()))
                .metadata("progress", JsonWriter.compact().write(progress))
                .add(PeftAdapter.TENSOR, prompt, promptRows, width);
        optimizer.state().forEach((key, values) -> writer.add(OPTIMIZER_PREFIX + key, values, values.length));
        return writer;
    }

    /** The configuration echoed in {@code file}. */
    static TrainingConfig savedConfig(Path file) {
        try (SafetensorsFile state = open(file)) {
            return config(state, file);
        }
    }

    /**
     * Reads {@code file} back into a state for {@code config}, which must agree with the saved configuration on
     * everything that decides the trajectory.
     *
     * @throws TrainingStateException naming the file and what does not fit
     */
    static TrainingState read(Path file, TrainingConfig config) {
        try (SafetensorsFile saved = open(file)) {
            List<String> differences = config.trajectoryDifferences(config(saved, file));
            if (!differences.isEmpty()) {
                throw new TrainingStateException(file + " was trained with other settings: "
                        + String.join(", ", differences) + "; a resumed run keeps the checkpoint's settings");
            }
            JsonObject progress = metadataJson(saved, file, "progress");
            if (!saved.contains(PeftAdapter.TENSOR)) {
                throw new TrainingStateException(file + " has no '" + PeftAdapter.TENSOR + "' tensor");
            }
            long[] shape = saved.info(PeftAdapter.TENSOR).shape();
            if (shape.length != 2 || shape[0] != config.virtualTokens() || shape[1] < 1) {
                throw new TrainingStateException(file + ": '" + PeftAdapter.TENSOR + "' has shape "
                        + Arrays.toString(shape) + ", not [" + config.virtualTokens() + ", hidden]");
            }
            int width = Math.toIntExact(shape[1]);
            float[] prompt = saved.readFloats(PeftAdapter.TENSOR);
            for (int i = 0; i < prompt.length; i++) {
                if (!Float.isFinite(prompt[i])) {
                    throw new TrainingStateException(file + ": " + PeftAdapter.TENSOR + "[" + i / width + ", "
                            + i % width + "] is " + prompt[i] + "; the saved prompt is not finite, so training cannot"
                            + " continue from it");
                }
            }
            TrainingState state = new TrainingState(config, config.virtualTokens(), width, prompt,
                    progress.requireString("data_sha256"));
            Map<String, float[]> slots = new LinkedHashMap<>();
            for (String name : saved.names()) {
                if (name.startsWith(OPTIMIZER_PREFIX)) {
                    slots.put(name.substring(OPTIMIZER_PREFIX.length()), saved.readFloats(name));
                }
            }
            try {
                state.optimizer.restore(progress.requireInt("optimizer_steps"), slots);
            } catch (IllegalArgumentException e) {
                throw new TrainingStateException(file + ": the optimizer state does not fit "
                        + config.optimizer().cliName() + " over [" + config.virtualTokens() + ", " + width + "]: "
                        + e.getMessage(), e);
            }
            state.step = progress.requireInt("step");
            state.epoch = progress.requireInt("epoch");
            state.position = progress.requireInt("epoch_position");
            state.bestEvalLoss = progress.has("best_eval_loss") ? progress.requireDouble("best_eval_loss") : Double.NaN;
            state.bestStep = progress.has("best_step") ? progress.requireInt("best_step") : -1;
            state.evalsSinceBest = progress.requireInt("evals_since_best");
            state.skippedSteps = progress.has("skipped_steps") ? progress.requireInt("skipped_steps") : 0;
            state.nonFiniteInARow = progress.has("nonfinite_in_a_row") ? progress.requireInt("nonfinite_in_a_row") : 0;
            return state;
        } catch (JsonException e) {
            throw new TrainingStateException(file + ": " + e.getMessage(), e);
        }
    }

    private static SafetensorsFile open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new TrainingStateException(file.getParent() + " has no " + FILE + "; it is not a promptgrad training"
                    + " folder, or its run stopped before the first checkpoint was saved");
        }
        SafetensorsFile saved;
        try {
            saved = SafetensorsFile.open(file);
        } catch (SafetensorsException e) {
            throw new TrainingStateException(e.getMessage(), e);
        }
        if (!FORMAT.equals(saved.metadata().get("promptgrad"))) {
            saved.close();
            throw new TrainingStateException(file + " is not a promptgrad training state (its __metadata__ has no"
                    + " \"promptgrad\": \"" + FORMAT + "\")");
        }
        return saved;
    }

    private static TrainingConfig config(SafetensorsFile saved, Path file) {
        try {
            return TrainingConfig.fromJson(metadataJson(saved, file, "config"));
        } catch (JsonException | IllegalArgumentException e) {
            throw new TrainingStateException(file + ": the saved configuration cannot be read: " + e.getMessage(), e);
        }
    }

    private static JsonObject metadataJson(SafetensorsFile saved, Path file, String key) {
        String text = saved.metadata().get(key);
        if (text == null) throw new TrainingStateException(file + ": __metadata__ has no '" + key + "'");
        String source = file + " __metadata__." + key;
        return JsonObject.of(Json.parse(text, source, METADATA_LIMITS), source);
    }
}
