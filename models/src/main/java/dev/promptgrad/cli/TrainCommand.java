package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.embedding.ClassifyObjective;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.train.Checkpoint;
import dev.promptgrad.train.InitialPrompt;
import dev.promptgrad.train.PromptTrainer;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingData;
import dev.promptgrad.train.TrainingResult;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code promptgrad train}: learns a soft prompt for a frozen model from JSONL examples and writes a PEFT
 * adapter folder with promptgrad's checkpoint beside it (docs/cli.md, docs/prompt-files.md); {@code --resume}
 * continues a stopped run. A causal LM learns from next-token loss; an encoder's objective is chosen with
 * {@code --objective} and run by {@link EncoderTraining} (docs/encoders.md). It turns flags into a
 * {@link TrainingConfig} (over the checkpoint's when resuming), shows progress, and on Ctrl-C lets the current
 * step finish and saves a checkpoint before the JVM exits. The training itself is {@link PromptTrainer}'s.
 */
@Command(name = "train", sortOptions = false,
        description = "Learn a soft prompt from JSONL examples; write a PEFT adapter folder that --resume continues.")
final class TrainCommand implements Callable<Integer> {

    /** How long a Ctrl-C waits for the current step and the checkpoint before the JVM exits anyway. */
    private static final long INTERRUPT_WAIT_SECONDS = 120;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint; for --objective classify or"
                    + " contrastive an encoder: minilm, a BERT folder or an .onnx file (with --resume: default the"
                    + " checkpoint's).")
    Path model;

    @Option(names = "--objective", paramLabel = "NAME",
            description = "causal-lm (next-token loss of a causal LM, the default), classify ({\"text\","
                    + " \"label\"} lines: each text nearest its label's embedding) or contrastive ({\"query\","
                    + " \"positive\"} lines, in-batch negatives); the last two train an encoder's prompt.")
    String objective;

    @Option(names = "--placement", paramLabel = "WHERE",
            description = "Encoders: before-cls (PEFT's, the default) or after-cls.")
    String placement;

    @Option(names = "--temperature", paramLabel = "TAU",
            description = "Encoders: the softmax temperature over cosine similarities (default 0.05, i.e. scale 20).")
    Double temperature;

    @Option(names = "--label-text", paramLabel = "TEMPLATE",
            description = "classify: what a label is compared as, {label} replaced by it (default \"{label}\").")
    String labelText;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    @Option(names = "--data", paramLabel = "TRAIN.jsonl",
            description = "Training examples, one JSON object a line: {\"input\", \"output\"}, {\"text\"} or"
                    + " {\"input_ids\", \"labels\"} (with --resume: default the checkpoint's).")
    Path data;

    static final class HeldOut {
        @Option(names = "--eval", paramLabel = "EVAL.jsonl",
                description = "Held-out examples, evaluated every --eval-every steps.")
        Path file;

        @Option(names = "--eval-split", paramLabel = "SHARE",
                description = "Hold out this share of the training examples instead (chosen by --seed), e.g. 0.1.")
        Double split;
    }

    @ArgGroup
    HeldOut heldOut;

    @Option(names = "--out", paramLabel = "DIR",
            description = "The output folder, missing or empty (with --resume: default the resumed folder).")
    Path out;

    @Option(names = "--resume", paramLabel = "DIR", description = "Continue the run saved in DIR, with its settings.")
    Path resume;

    @Option(names = "--virtual-tokens", paramLabel = "N",
            description = "Prompt rows (default 20; with --init adapter:DIR the adapter's).")
    Integer virtualTokens;

    @Option(names = "--init", paramLabel = "SPEC",
            description = "How the prompt starts: sample-vocab (embeddings of random token ids, the default),"
                    + " text:TEXT (PEFT's TEXT init), labels (class labels of the outputs), random (N(0, 1)),"
                    + " adapter:DIR (an existing adapter's prompt).")
    String init;

    @Option(names = "--optimizer", paramLabel = "NAME",
            description = "adamw (torch defaults, weight decay 0.01; the default) or adafactor (Lester et al.'s"
                    + " settings).")
    String optimizer;

    @Option(names = "--lr", paramLabel = "RATE",
            description = "Peak learning rate (default 0.01 for adamw, 0.3 for adafactor).")
    Double lr;

    @Option(names = "--schedule", paramLabel = "NAME",
            description = "constant (the default), warmup-constant, linear or cosine (Hugging Face's schedules).")
    String schedule;

    @Option(names = "--warmup", paramLabel = "STEPS", description = "Warm-up steps of the schedule (default 0).")
    Integer warmup;

    @Option(names = "--batch", paramLabel = "N", description = "Examples per forward and backward pass (default 8).")
    Integer batch;

    @Option(names = "--grad-accum", paramLabel = "N",
            description = "Passes per optimizer step; the loss is the mean over all their labelled tokens (default 1).")
    Integer gradAccum;

    @Option(names = "--max-length", paramLabel = "N",
            description = "Cut longer examples to N tokens from the left of their input, keeping BOS and every scored"
                    + " token (default: the model's context less the prompt; longer lines are refused).")
    Integer maxLength;

    static final class Length {
        @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps of the run.")
        Integer steps;

        @Option(names = "--epochs", paramLabel = "N", description = "Passes over the training data (default 3).")
        Integer epochs;
    }

    @ArgGroup
    Length length;

    @Option(names = "--clip", paramLabel = "NORM",
            description = "Clip the gradient's global norm to NORM; 0 is off (default 1.0).")
    Double clip;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seeds the init, the eval split and the shuffling (default 0).")
    Long seed;

    @Option(names = "--eval-every", paramLabel = "STEPS",
            description = "Steps between evaluations (default: once per epoch).")
    Integer evalEvery;

    @Option(names = "--save-every", paramLabel = "STEPS",
            description = "Steps between checkpoints (default: at each evaluation).")
    Integer saveEvery;

    @Option(names = "--early-stop", paramLabel = "PATIENCE",
            description = "Stop after PATIENCE evaluations without a lower held-out loss; 0 is off (default 0).")
    Integer earlyStop;

    @Option(names = "--on-nonfinite", paramLabel = "ACTION",
            description = "A step whose loss or gradient is NaN or infinite: skip (warn and leave the prompt as it"
                    + " was; the default) or stop (save the last finite prompt and fail).")
    String onNonFinite;

    @Option(names = "--max-nonfinite", paramLabel = "N",
            description = "With skip: stop the run at N such steps in a row (default 3).")
    Integer maxNonFinite;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) at the end instead of a sentence.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        TrainingConfig config = configuration();
        Path outFolder = out != null ? out : resume;
        PrintWriter printer = spec.commandLine().getOut();
        TrainingProgress progress = new TrainingProgress(printer, System.console() != null);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(1);
        Thread interrupt = new Thread(() -> {
            stop.set(true);
            try {
                finished.await(INTERRUPT_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "promptgrad train: save on interrupt");
        Runtime.getRuntime().addShutdownHook(interrupt);
        try (Backend backend = common.openBackend(spec.commandLine().getErr())) {
            if (config.objective().kind().encoder()) {
                EncoderTraining.Outcome outcome = EncoderTraining.run(config, resume, outFolder, backend, progress,
                        stop);
                progress.finish();
                print(printer, outcome.result(), outcome.before(), outcome.after());
            } else {
                EncoderTraining.refuseEncoderForCausalLm(config.baseModel());
                TrainingResult result = trainCausalLm(config, backend, outFolder, progress, stop);
                progress.finish();
                print(printer, result, null, null);
            }
        } finally {
            progress.finish();
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(interrupt);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already exiting (Ctrl-C): the hook has run and is waiting for this countdown
            }
        }
        return Main.OK;
    }

    /** A causal LM's run: the model and its tokenizer, the JSONL examples, a new or resumed trainer. */
    private TrainingResult trainCausalLm(TrainingConfig config, Backend backend, Path outFolder,
                                         TrainingProgress progress, AtomicBoolean stop) {
        Path modelPath = Path.of(config.baseModel());
        Path tokenizerPath = config.tokenizer() == null ? null : Path.of(config.tokenizer());
        try (ModelSource source = ModelSource.open(modelPath, tokenizerPath, backend, weights.storage)) {
            LanguageModel lm = source.model();
            int room = lm.contextLength() - config.virtualTokens();
            if (room < 1) {
                throw new IllegalArgumentException("--virtual-tokens " + config.virtualTokens() + " leaves no room"
                        + " for tokens in " + lm.name() + ", which reads at most " + lm.contextLength() + " positions");
            }
            JsonlReader reader = new JsonlReader(source.tokenizer(), source.bosEos(), lm.vocabSize(), room,
                    "the model's context of " + lm.contextLength() + " positions less the prompt's "
                            + config.virtualTokens());
            TrainingData examples = TrainingData.read(reader, Path.of(config.trainData()),
                    config.evalData() == null ? null : Path.of(config.evalData()), config.evalSplit(), config.seed(),
                    config.maxLength() > 0 ? Math.min(config.maxLength(), room) : room, source.bosEos().bos());
            int padId = source.tokenizer() != null ? source.tokenizer().pad().orElse(0) : 0;
            PromptTrainer trainer = new PromptTrainer(lm, examples, config, padId, progress);
            return resume != null ? trainer.resume(resume, outFolder, stop)
                    : trainer.train(outFolder,
                            InitialPrompt.of(config, lm, source.tokenizer(), source.bosEos(), examples), stop);
        }
    }

    /** The flags over the defaults, or over the checkpoint's configuration when resuming. */
    private TrainingConfig configuration() {
        TrainingConfig.Builder builder;
        if (resume != null) {
            builder = Checkpoint.savedConfig(resume).toBuilder();
        } else {
            if (model == null || data == null || out == null) {
                throw new ParameterException(spec.commandLine(), "train needs --model, --data and --out, or"
                        + " --resume DIR to continue a run");
            }
            builder = TrainingConfig.builder(model.toString());
        }
        if (model != null) builder.baseModel(model.toString());
        if (tokenizer != null) builder.tokenizer(tokenizer.toString());
        if (data != null) builder.trainData(data.toString());
        if (heldOut != null && heldOut.file != null) builder.evalData(heldOut.file.toString());
        if (heldOut != null && heldOut.split != null) builder.evalSplit(heldOut.split);
        if (init != null) {
            TrainingConfig.Init start = TrainingConfig.Init.parse(init);
            builder.init(start);
            if (start.kind() == TrainingConfig.Init.Kind.ADAPTER && virtualTokens == null && resume == null) {
                builder.virtualTokens(PeftAdapter.read(Path.of(start.argument())).virtualTokens());
            }
        }
        if (virtualTokens != null) builder.virtualTokens(virtualTokens);
        if (optimizer != null) {
            TrainingConfig.OptimizerKind kind = switch (optimizer) {
                case "adamw" -> TrainingConfig.OptimizerKind.ADAMW;
                case "adafactor" -> TrainingConfig.OptimizerKind.ADAFACTOR;
                default -> throw new IllegalArgumentException("--optimizer " + optimizer
                        + " is not adamw or adafactor");
            };
            builder.optimizer(kind);
        }
        if (lr != null) builder.lr(lr);
        if (schedule != null) builder.schedule(schedule);
        if (warmup != null) builder.warmup(warmup);
        if (batch != null) builder.batch(batch);
        if (gradAccum != null) builder.gradAccum(gradAccum);
        if (maxLength != null) builder.maxLength(maxLength);
        if (length != null && length.steps != null) builder.steps(length.steps);
        if (length != null && length.epochs != null) builder.epochs(length.epochs);
        if (clip != null) builder.clip(clip);
        if (seed != null) builder.seed(seed);
        if (evalEvery != null) builder.evalEvery(evalEvery);
        if (saveEvery != null) builder.saveEvery(saveEvery);
        if (earlyStop != null) builder.earlyStop(earlyStop);
        if (onNonFinite != null) builder.onNonFinite(TrainingConfig.NonFiniteAction.parse(onNonFinite));
        if (maxNonFinite != null) builder.maxNonFinite(maxNonFinite);
        if (objective != null || placement != null || temperature != null || labelText != null) {
            TrainingConfig.Objective.Kind kind = objective != null ? TrainingConfig.Objective.Kind.parse(objective)
                    : builder.build().objective().kind();
            builder.objective(TrainingConfig.Objective.of(kind,
                    placement == null ? null : PromptPlacement.parse(placement),
                    temperature, labelText));
        }
        TrainingConfig config = builder.build();
        if (config.trainData() == null) {
            throw new IllegalArgumentException("the checkpoint in " + resume + " names no training file; pass --data");
        }
        return config;
    }

    /** The summary; {@code before} and {@code after} are held-out accuracies of a classify run, else null. */
    private void print(PrintWriter printer, TrainingResult result, ClassifyObjective.Accuracy before,
                       ClassifyObjective.Accuracy after) {
        String why = switch (result.status()) {
            case FINISHED -> "finished";
            case EARLY_STOPPED -> "stopped early";
            case INTERRUPTED -> "interrupted";
            case DIVERGED -> "diverged";
            case RUNNING -> "running";
        };
        if (json) {
            Map<String, Object> summary = new LinkedHashMap<>();
            summary.put("status", why);
            summary.put("steps", result.steps());
            summary.put("total_steps", result.totalSteps());
            summary.put("loss", finiteOrNull(result.lastLoss()));
            summary.put("eval_loss", finiteOrNull(result.lastEvalLoss()));
            summary.put("best_eval_loss", finiteOrNull(result.bestEvalLoss()));
            summary.put("best_step", result.bestStep() < 0 ? null : result.bestStep());
            if (after != null) {
                summary.put("accuracy_without_prompt", before.fraction());
                summary.put("accuracy", after.fraction());
            }
            summary.put("out", result.folder().toString());
            printer.println(JsonWriter.compact().write(summary));
        } else {
            StringBuilder line = new StringBuilder(why + " after " + result.steps() + " of " + result.totalSteps()
                    + " steps");
            if (!Double.isNaN(result.lastLoss())) {
                line.append(", loss ").append(String.format(Locale.ROOT, "%.4f", result.lastLoss()));
            }
            if (result.bestStep() >= 0) {
                line.append(", best held-out loss ").append(String.format(Locale.ROOT, "%.4f", result.bestEvalLoss()))
                        .append(" at step ").append(result.bestStep())
                        .append(" (in ").append(result.folder().resolve(Checkpoint.BEST)).append(")");
            }
            printer.println(line);
            if (after != null) {
                printer.println(String.format(Locale.ROOT,
                        "held-out accuracy: %.1f%% (%d of %d) with the prompt, %.1f%%"
                        + " (%d of %d) without", 100 * after.fraction(), after.correct(), after.total(),
                        100 * before.fraction(), before.correct(), before.total()));
            }
            printer.println("adapter written to " + result.folder() + (result.status() == Checkpoint.Status.INTERRUPTED
                    ? "; continue with: promptgrad train --resume " + result.folder() : ""));
        }
        printer.flush();
    }

    private static Double finiteOrNull(double value) {
        return Double.isFinite(value) ? value : null;
    }
}
