package dev.promptgrad.train;

import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.optim.Adafactor;
import dev.promptgrad.optim.LearningRateSchedule;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Everything that decides a soft-prompt training run's trajectory, and the run's length and rhythm, as the
 * {@code promptgrad train} flags name them (docs/cli.md). Values are checked when built; numbers that depend on
 * the data (steps per epoch) are resolved by {@link TrainingPlan}. It is echoed as JSON into every checkpoint,
 * so a resumed run can be checked against the one it continues. It holds no data and no model.
 *
 * @param virtualTokens prompt rows (PEFT's num_virtual_tokens)
 * @param init          how the prompt starts
 * @param optimizer     AdamW (torch defaults, decoupled weight decay 0.01) or Lester et al.'s Adafactor
 * @param lr            peak learning rate
 * @param schedule      one of {@link LearningRateSchedule#NAMES}, canonical spelling
 * @param warmup        warm-up steps of the schedule
 * @param batch         examples per micro-batch (one forward and backward)
 * @param gradAccum     micro-batches per optimizer step
 * @param maxLength     most tokens of one example after truncation; 0 = the model's context less the prompt
 * @param steps         optimizer steps of the run; 0 = {@code epochs} passes over the training data
 * @param epochs        passes over the training data when {@code steps} is 0
 * @param clip          global gradient-norm bound; 0 = no clipping
 * @param seed          seeds the init draws, the eval split and every epoch's shuffle
 * @param evalEvery     steps between evaluations; 0 = once per epoch
 * @param saveEvery     steps between checkpoints; 0 = at every evaluation
 * @param earlyStop     stop after this many evaluations without a lower eval loss; 0 = never
 * @param baseModel     the model as named to the run: the adapter's base_model_name_or_path, and what a
 *                      resumed run opens when it is not told otherwise
 * @param tokenizer     the tokenizer as named to the run, or null for the model's own; for a text init the
 *                      adapter's tokenizer_name_or_path (the model when null)
 * @param trainData     the training file as named to the run, or null when the examples were made in code
 * @param evalData      the held-out file as named to the run, or null
 * @param evalSplit     the share of the training file held out instead (0 for none)
 * @param objective     what the prompt is trained for: a causal LM's next-token loss, or an encoder objective
 * @param onNonFinite   what a step whose loss or gradient is NaN or infinite does: skip (the prompt and optimizer
 *                      stay as they were, the step counts) or stop the run with the last finite checkpoint
 * @param maxNonFinite  with {@link NonFiniteAction#SKIP}: the run stops at this many such steps in a row
 */
public record TrainingConfig(int virtualTokens, Init init, OptimizerKind optimizer, double lr, String schedule,
                             int warmup, int batch, int gradAccum, int maxLength, int steps, int epochs, double clip,
                             long seed, int evalEvery, int saveEvery, int earlyStop, String baseModel,
                             String tokenizer, String trainData, String evalData, double evalSplit,
                             Objective objective, NonFiniteAction onNonFinite, int maxNonFinite) {

    /** AdamW's default rate here: PEFT's prompt-tuning examples use 1e-2 to 3e-2 with AdamW. */
    public static final double ADAMW_LEARNING_RATE = 0.01;

    /** The default of {@code --max-nonfinite}: skipped steps in a row before a run stops. */
    public static final int MAX_NONFINITE = 3;

    /** The optimizers {@code --optimizer} offers. */
    public enum OptimizerKind {
        /** torch.optim.AdamW with its defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
        ADAMW,
        /** Hugging Face's Adafactor with Lester et al. 2021's prompt-tuning settings. */
        ADAFACTOR;

        /** The rate used when none is given: {@link Adafactor#LESTER_LEARNING_RATE} or {@link #ADAMW_LEARNING_RATE}. */
        public double defaultLearningRate() {
            return this == ADAFACTOR ? Adafactor.LESTER_LEARNING_RATE : ADAMW_LEARNING_RATE;
        }

        public String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }

        static OptimizerKind parse(String name) {
            for (OptimizerKind kind : values()) if (kind.cliName().equals(name)) return kind;
            throw new IllegalArgumentException("unknown optimizer '" + name + "'; use adamw or adafactor");
        }
    }

    /** What {@code --on-nonfinite} does with a step whose loss or gradient norm is NaN or infinite. */
    public enum NonFiniteAction {
        /** Leave the prompt and the optimizer as they were, warn, count the step and go on (up to a limit in a row). */
        SKIP,
        /** Stop the run at once, keeping the checkpoint of the last finite prompt. */
        STOP;

        public String cliName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Reads {@code skip} or {@code stop}. */
        public static NonFiniteAction parse(String name) {
            for (NonFiniteAction action : values()) if (action.cliName().equals(name)) return action;
            throw new IllegalArgumentException("--on-nonfinite '" + name + "' is not skip or stop");
        }
    }

    /**
     * How the prompt starts: {@code sample-vocab} (rows copied from random vocabulary ids, PEFT's SAMPLE_VOCAB),
     * {@code text:TEXT} (PEFT's TEXT), {@code labels} (Lester et al.'s class labels), {@code random} (PEFT's
     * RANDOM, N(0, 1)) or {@code adapter:DIR} (the prompt of an existing PEFT adapter).
     *
     * @param argument the text of a text init, the folder of an adapter init, else null
     */
    public record Init(Kind kind, String argument) {
        /** The kinds of start. */
        public enum Kind { SAMPLE_VOCAB, TEXT, LABELS, RANDOM, ADAPTER }

        public Init {
            Objects.requireNonNull(kind, "init kind");
            boolean needsArgument = kind == Kind.TEXT || kind == Kind.ADAPTER;
            if (needsArgument != (argument != null)) {
                throw new IllegalArgumentException("init " + kind + (needsArgument ? " needs" : " takes no")
                        + " argument");
            }
            if (kind == Kind.TEXT && argument.isEmpty()) {
                throw new IllegalArgumentException("--init text: needs a text after the colon, as in"
                        + " text:\"Classify the review:\"");
            }
        }

        /** Reads {@code sample-vocab}, {@code text:TEXT}, {@code labels}, {@code random} or {@code adapter:DIR}. */
        public static Init parse(String spec) {
            if (spec.startsWith("text:")) return new Init(Kind.TEXT, spec.substring("text:".length()));
            if (spec.startsWith("adapter:")) {
                String folder = spec.substring("adapter:".length());
                if (folder.isEmpty()) {
                    throw new IllegalArgumentException("--init adapter: needs a folder, as in adapter:runs/first");
                }
                return new Init(Kind.ADAPTER, folder);
            }
            return switch (spec) {
                case "sample-vocab" -> new Init(Kind.SAMPLE_VOCAB, null);
                case "labels" -> new Init(Kind.LABELS, null);
                case "random" -> new Init(Kind.RANDOM, null);
                default -> throw new IllegalArgumentException("--init '" + spec + "' is not one of sample-vocab,"
                        + " text:TEXT, labels, random, adapter:DIR");
            };
        }

        public static Init adapter(Path folder) {
            return new Init(Kind.ADAPTER, folder.toString());
        }

        /** The spelling {@link #parse} reads back. */
        public String spec() {
            return switch (kind) {
                case SAMPLE_VOCAB -> "sample-vocab";
                case TEXT -> "text:" + argument;
                case LABELS -> "labels";
                case RANDOM -> "random";
                case ADAPTER -> "adapter:" + argument;
            };
        }

        /**
         * PEFT's {@code prompt_tuning_init} for the adapter file. PEFT has no class-label or adapter init;
         * labels are written as SAMPLE_VOCAB (the rows are vocabulary embeddings) and an adapter start as
         * RANDOM. PEFT only reads this when it builds a new prompt, never for an adapter in inference mode.
         */
        public String peftName() {
            return switch (kind) {
                case SAMPLE_VOCAB, LABELS -> "SAMPLE_VOCAB";
                case TEXT -> "TEXT";
                case RANDOM, ADAPTER -> "RANDOM";
            };
        }
    }

    /**
     * What the prompt is trained for: {@code causal-lm} (the next-token loss of a causal LM, the default), or for
     * an encoder {@code classify} (each text's embedding should be nearest its label text's) or {@code contrastive}
     * (each query's embedding nearest its positive's, the batch's other positives the negatives). The encoder
     * objectives are explained in docs/encoders.md.
     *
     * @param placement   where an encoder's prompt goes; null for causal-lm
     * @param temperature τ of the softmax over cosine similarities (scores cos/τ); 0 for causal-lm
     * @param labelText   what a classify label is compared as: this text with {@value #LABEL} replaced by the label;
     *                    null for the other objectives
     */
    public record Objective(Kind kind, PromptPlacement placement, double temperature, String labelText) {
        /** Where {@link #labelText} puts the label. */
        public static final String LABEL = "{label}";
        /** sentence-transformers' MultipleNegativesRankingLoss scale of 20, as a temperature. */
        public static final double DEFAULT_TEMPERATURE = 0.05;
        /** The placement measured best on the demo task (docs/encoders.md). */
        public static final PromptPlacement DEFAULT_PLACEMENT = PromptPlacement.BEFORE_CLS;
        /** The causal LM's objective, which has no settings. */
        public static final Objective CAUSAL_LM = new Objective(Kind.CAUSAL_LM, null, 0, null);

        /** The objectives {@code --objective} offers. */
        public enum Kind {
            CAUSAL_LM, CLASSIFY, CONTRASTIVE;

            public String cliName() {
                return name().toLowerCase(Locale.ROOT).replace('_', '-');
            }

            /** Whether it trains an encoder's prompt. */
            public boolean encoder() {
                return this != CAUSAL_LM;
            }

            public static Kind parse(String name) {
                for (Kind kind : values()) if (kind.cliName().equals(name)) return kind;
                throw new IllegalArgumentException("--objective '" + name + "' is not one of causal-lm, classify,"
                        + " contrastive");
            }
        }

        public Objective {
            Objects.requireNonNull(kind, "objective kind");
            if (!kind.encoder()) {
                if (placement != null || temperature != 0 || labelText != null) {
                    throw new IllegalArgumentException("--placement, --temperature and --label-text are for encoder"
                            + " objectives (classify, contrastive), not causal-lm");
                }
            } else {
                Objects.requireNonNull(placement, "placement");
                if (!(temperature > 0 && Double.isFinite(temperature))) {
                    throw new IllegalArgumentException("--temperature " + temperature + " must be a finite number > 0");
                }
                if (kind == Kind.CLASSIFY && (labelText == null || !labelText.contains(LABEL))) {
                    throw new IllegalArgumentException("--label-text '" + labelText + "' must contain " + LABEL
                            + ", where each label goes, as in \"a sentence about " + LABEL + "\"");
                }
                if (kind == Kind.CONTRASTIVE && labelText != null) {
                    throw new IllegalArgumentException("--label-text is for --objective classify; contrastive data has"
                            + " no labels");
                }
            }
        }

        /**
         * The objective {@code kind} with the given settings, null ones taking their defaults
         * ({@link #DEFAULT_PLACEMENT}, {@link #DEFAULT_TEMPERATURE}, the label itself).
         */
        public static Objective of(Kind kind, PromptPlacement placement, Double temperature, String labelText) {
            if (!kind.encoder()) {
                if (placement != null || temperature != null || labelText != null) {
                    throw new IllegalArgumentException("--placement, --temperature and --label-text are for encoder"
                            + " objectives (classify, contrastive), not causal-lm");
                }
                return CAUSAL_LM;
            }
            return new Objective(kind, placement != null ? placement : DEFAULT_PLACEMENT,
                    temperature != null ? temperature : DEFAULT_TEMPERATURE,
                    kind == Kind.CLASSIFY ? (labelText != null ? labelText : LABEL) : labelText);
        }

        /** The text a classify label is compared as. */
        public String labelText(String label) {
            return labelText.replace(LABEL, label);
        }
    }

    public TrainingConfig {
        Objects.requireNonNull(init, "init");
        Objects.requireNonNull(objective, "objective");
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(baseModel, "baseModel");
        Objects.requireNonNull(onNonFinite, "onNonFinite");
        positive("--max-nonfinite", maxNonFinite);
        positive("--virtual-tokens", virtualTokens);
        if (!(lr > 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException("--lr " + lr + " must be a finite number > 0");
        }
        nonNegative("--warmup", warmup);
        positive("--batch", batch);
        positive("--grad-accum", gradAccum);
        nonNegative("--max-length", maxLength);
        nonNegative("--steps", steps);
        if (steps == 0) positive("--epochs", epochs);
        if (!(clip >= 0 && Double.isFinite(clip))) {
            throw new IllegalArgumentException("--clip " + clip + " must be a finite number >= 0 (0 turns clipping"
                    + " off)");
        }
        nonNegative("--eval-every", evalEvery);
        nonNegative("--save-every", saveEvery);
        nonNegative("--early-stop", earlyStop);
        if (!(evalSplit >= 0 && evalSplit < 1)) {
            throw new IllegalArgumentException("--eval-split " + evalSplit + " must lie in [0, 1): the share of the"
                    + " training examples held out");
        }
        if (evalData != null && evalSplit > 0) {
            throw new IllegalArgumentException("give held-out data either as a file (--eval) or as a share"
                    + " (--eval-split), not both");
        }
        schedule = LearningRateSchedule.parse(schedule, lr, warmup, Math.max(warmup, 1)).name();
    }

    /** A builder with the command line's defaults (see {@link Builder}). */
    public static Builder builder(String baseModel) {
        return new Builder(baseModel);
    }

    /** This configuration's values as a builder, to change a few. */
    public Builder toBuilder() {
        Builder b = new Builder(baseModel);
        b.virtualTokens = virtualTokens;
        b.init = init;
        b.optimizer = optimizer;
        b.lr = lr;
        b.schedule = schedule;
        b.warmup = warmup;
        b.batch = batch;
        b.gradAccum = gradAccum;
        b.maxLength = maxLength;
        b.steps = steps;
        b.epochs = epochs;
        b.clip = clip;
        b.seed = seed;
        b.evalEvery = evalEvery;
        b.saveEvery = saveEvery;
        b.earlyStop = earlyStop;
        b.tokenizer = tokenizer;
        b.trainData = trainData;
        b.evalData = evalData;
        b.evalSplit = evalSplit;
        b.objective = objective;
        b.onNonFinite = onNonFinite;
        b.maxNonFinite = maxNonFinite;
        return b;
    }

    /** The schedule for a run of {@code totalSteps} optimizer steps. */
    public LearningRateSchedule learningRateSchedule(int totalSteps) {
        return LearningRateSchedule.parse(schedule, lr, warmup, totalSteps);
    }

    /** The configuration as JSON-ready values (keys in a fixed order), for the checkpoint's echo. */
    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("virtual_tokens", virtualTokens);
        json.put("init", init.spec());
        json.put("optimizer", optimizer.cliName());
        json.put("lr", lr);
        json.put("schedule", schedule);
        json.put("warmup", warmup);
        json.put("batch", batch);
        json.put("grad_accum", gradAccum);
        json.put("max_length", maxLength);
        json.put("steps", steps);
        json.put("epochs", epochs);
        json.put("clip", clip);
        json.put("seed", seed);
        json.put("eval_every", evalEvery);
        json.put("save_every", saveEvery);
        json.put("early_stop", earlyStop);
        json.put("base_model", baseModel);
        json.put("tokenizer", tokenizer);
        json.put("train_data", trainData);
        json.put("eval_data", evalData);
        json.put("eval_split", evalSplit);
        json.put("objective", objective.kind().cliName());
        json.put("placement", objective.placement() == null ? null : objective.placement().cliName());
        json.put("temperature", objective.temperature());
        json.put("label_text", objective.labelText());
        json.put("on_nonfinite", onNonFinite.cliName());
        json.put("max_nonfinite", maxNonFinite);
        return json;
    }

    /**
     * Reads {@link #toJson()}'s form back; a configuration saved before objectives existed is causal-lm, and one
     * saved before {@code on_nonfinite} and {@code max_nonfinite} existed reads as skip and {@link #MAX_NONFINITE}.
     */
    public static TrainingConfig fromJson(JsonObject json) {
        Objective.Kind kind = Objective.Kind.parse(json.stringOr("objective", "causal-lm"));
        String placement = json.stringOr("placement", null);
        Objective objective = kind.encoder() ? new Objective(kind, PromptPlacement.parse(placement),
                json.requireDouble("temperature"), json.stringOr("label_text", null)) : Objective.CAUSAL_LM;
        return new TrainingConfig(json.requireInt("virtual_tokens"), Init.parse(json.requireString("init")),
                OptimizerKind.parse(json.requireString("optimizer")), json.requireDouble("lr"),
                json.requireString("schedule"), json.requireInt("warmup"), json.requireInt("batch"),
                json.requireInt("grad_accum"), json.requireInt("max_length"), json.requireInt("steps"),
                json.requireInt("epochs"), json.requireDouble("clip"), json.requireLong("seed"),
                json.requireInt("eval_every"), json.requireInt("save_every"), json.requireInt("early_stop"),
                json.requireString("base_model"), json.stringOr("tokenizer", null), json.stringOr("train_data", null),
                json.stringOr("eval_data", null), json.requireDouble("eval_split"), objective,
                NonFiniteAction.parse(json.stringOr("on_nonfinite", NonFiniteAction.SKIP.cliName())),
                json.has("max_nonfinite") ? json.requireInt("max_nonfinite") : MAX_NONFINITE);
    }

    /**
     * The settings that decide the trajectory and differ between this configuration and {@code saved}, each
     * as "--flag now (checkpoint: saved)"; empty when a run with this configuration continues {@code saved}'s
     * exactly. The run's length, its evaluation and save rhythm, early stopping, what a non-finite step does
     * and the names written into the adapter may differ, and so may the data's names (the trainer checks the
     * examples themselves).
     */
    public List<String> trajectoryDifferences(TrainingConfig saved) {
        List<String> differences = new ArrayList<>();
        compare(differences, "--virtual-tokens", virtualTokens, saved.virtualTokens);
        compare(differences, "--init", init.spec(), saved.init.spec());
        compare(differences, "--optimizer", optimizer.cliName(), saved.optimizer.cliName());
        compare(differences, "--lr", lr, saved.lr);
        compare(differences, "--schedule", schedule, saved.schedule);
        compare(differences, "--warmup", warmup, saved.warmup);
        compare(differences, "--batch", batch, saved.batch);
        compare(differences, "--grad-accum", gradAccum, saved.gradAccum);
        compare(differences, "--max-length", maxLength, saved.maxLength);
        compare(differences, "--clip", clip, saved.clip);
        compare(differences, "--seed", seed, saved.seed);
        compare(differences, "--objective", objective.kind().cliName(), saved.objective.kind().cliName());
        compare(differences, "--placement", String.valueOf(objective.placement()),
                String.valueOf(saved.objective.placement()));
        compare(differences, "--temperature", objective.temperature(), saved.objective.temperature());
        compare(differences, "--label-text", String.valueOf(objective.labelText()),
                String.valueOf(saved.objective.labelText()));
        return differences;
    }

    private static void compare(List<String> differences, String flag, Object now, Object saved) {
        if (!now.equals(saved)) differences.add(flag + " " + now + " (checkpoint: " + saved + ")");
    }

    private static void positive(String flag, long value) {
        if (value < 1) throw new IllegalArgumentException(flag + " must be at least 1, got " + value);
    }

    private static void nonNegative(String flag, long value) {
        if (value < 0) throw new IllegalArgumentException(flag + " must not be negative, got " + value);
    }

    /**
     * Builds a {@link TrainingConfig}; the defaults are the command line's: 20 virtual tokens, sample-vocab init,
     * AdamW at {@link #ADAMW_LEARNING_RATE} (Adafactor at 0.3 when chosen without a rate), constant schedule, no
     * warm-up, batch 8, no accumulation, no truncation, 3 epochs, clipping at 1.0, seed 0, evaluation and
     * checkpoints once per epoch, no early stopping, nothing held out, the causal LM objective, non-finite steps
     * skipped with a stop at {@link #MAX_NONFINITE} in a row.
     */
    public static final class Builder {
        private int virtualTokens = 20;
        private Init init = new Init(Init.Kind.SAMPLE_VOCAB, null);
        private OptimizerKind optimizer = OptimizerKind.ADAMW;
        private Double lr;
        private String schedule = "constant";
        private int warmup;
        private int batch = 8;
        private int gradAccum = 1;
        private int maxLength;
        private int steps;
        private int epochs = 3;
        private double clip = 1.0;
        private long seed;
        private int evalEvery;
        private int saveEvery;
        private int earlyStop;
        private String tokenizer;
        private String trainData;
        private String evalData;
        private double evalSplit;
        private String baseModel;
        private Objective objective = Objective.CAUSAL_LM;
        private NonFiniteAction onNonFinite = NonFiniteAction.SKIP;
        private int maxNonFinite = MAX_NONFINITE;

        private Builder(String baseModel) {
            this.baseModel = baseModel;
        }

        public Builder virtualTokens(int n) { virtualTokens = n; return this; }
        public Builder init(Init value) { init = value; return this; }
        public Builder optimizer(OptimizerKind value) { optimizer = value; return this; }
        /** The peak rate; null for the optimizer's default. */
        public Builder lr(Double value) { lr = value; return this; }
        public Builder schedule(String name) { schedule = name; return this; }
        public Builder warmup(int value) { warmup = value; return this; }
        public Builder batch(int value) { batch = value; return this; }
        public Builder gradAccum(int value) { gradAccum = value; return this; }
        public Builder maxLength(int value) { maxLength = value; return this; }
        /** A run of exactly this many optimizer steps. */
        public Builder steps(int value) { steps = value; return this; }
        /** A run of this many passes over the data (clears {@link #steps}). */
        public Builder epochs(int value) { epochs = value; steps = 0; return this; }
        public Builder clip(double value) { clip = value; return this; }
        public Builder seed(long value) { seed = value; return this; }
        public Builder evalEvery(int value) { evalEvery = value; return this; }
        public Builder saveEvery(int value) { saveEvery = value; return this; }
        public Builder earlyStop(int value) { earlyStop = value; return this; }
        public Builder baseModel(String value) { baseModel = value; return this; }
        public Builder tokenizer(String value) { tokenizer = value; return this; }
        public Builder trainData(String value) { trainData = value; return this; }
        /** A held-out file (clears {@link #evalSplit}). */
        public Builder evalData(String value) { evalData = value; evalSplit = 0; return this; }
        /** A held-out share of the training file (clears {@link #evalData}). */
        public Builder evalSplit(double value) { evalSplit = value; evalData = null; return this; }
        public Builder objective(Objective value) { objective = value; return this; }

        public Builder onNonFinite(NonFiniteAction value) { onNonFinite = value; return this; }
        public Builder maxNonFinite(int value) { maxNonFinite = value; return this; }

        public TrainingConfig build() {
            double rate = lr != null ? lr : optimizer.defaultLearningRate();
            return new TrainingConfig(virtualTokens, init, optimizer, rate, schedule, warmup, batch, gradAccum,
                    maxLength, steps, epochs, clip, seed, evalEvery, saveEvery, earlyStop, baseModel, tokenizer,
                    trainData, evalData, evalSplit, objective, onNonFinite, maxNonFinite);
        }
    }
}
