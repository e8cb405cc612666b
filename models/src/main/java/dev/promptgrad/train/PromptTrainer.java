package dev.promptgrad.train;

import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * Trains a soft prompt on a frozen model: draws each step's examples from seeded, shuffled epochs, runs a
 * {@link TrainingStep} on the {@link TrainingObjective}'s loss at the schedule's rate, evaluates the held-out
 * examples (at step 0 and every {@code evalEvery} steps, keeping the best prompt in {@code best/}), stops early
 * when they stop improving, and writes a {@link Checkpoint} when it starts or resumes, every {@code saveEvery}
 * steps and at the end. Setting the stop flag (the command line does it on Ctrl-C) ends the run after the
 * current step with a checkpoint. A step whose loss or gradient is not finite changes nothing: it is skipped
 * with a warning, or the run stops with the last finite prompt saved ({@link TrainingConfig#onNonFinite()}).
 * Nothing in a run depends on the clock or on thread scheduling, so the same model, data, configuration and seed
 * give the same prompt bit for bit, and {@link #resume} continues a stopped run exactly as if it had not stopped.
 */
public final class PromptTrainer {
    private final TrainingObjective objective;
    private final TrainingConfig config;
    private final TrainingPlan plan;
    private final TrainingListener listener;
    private final PeftAdapter.TuningConfig adapterConfig;
    private Checkpoint.FileObserver fileObserver = Checkpoint.FileObserver.NONE;

    /**
     * A causal LM's trainer: {@link CausalLmObjective} over {@code model} and {@code data}.
     *
     * @param padId the id right-padded sequences are filled with (the tokenizer's pad, else 0); the loss does
     *              not depend on it, since pads are masked and unlabelled
     */
    public PromptTrainer(LanguageModel model, TrainingData data, TrainingConfig config, int padId,
                         TrainingListener listener) {
        this(new CausalLmObjective(model, data, padId), config, listener);
    }

    /**
     * A trainer of {@code objective}'s loss.
     *
     * @throws IllegalArgumentException if the objective refuses the configuration, or early stopping has no
     *                                  held-out data
     */
    public PromptTrainer(TrainingObjective objective, TrainingConfig config, TrainingListener listener) {
        objective.check(config);
        if (config.earlyStop() > 0 && objective.evalSize() == 0) {
            throw new IllegalArgumentException("--early-stop needs held-out data: give --eval FILE or"
                    + " --eval-split SHARE");
        }
        this.objective = objective;
        this.config = config;
        this.plan = TrainingPlan.of(config, objective.trainSize());
        this.listener = listener;
        this.adapterConfig = objective.adapterConfig(config);
    }

    public TrainingPlan plan() {
        return plan;
    }

    /** For tests: sees each checkpoint file once it is in place (and may throw to stop a save part-way). */
    void observeFiles(Checkpoint.FileObserver observer) {
        this.fileObserver = observer;
    }

    /**
     * A new run from {@code initial} into {@code out}, which must be missing or empty.
     *
     * @param stop set it (from any thread) to end the run after the current step, with a checkpoint
     */
    public TrainingResult train(Path out, PromptInit.Initial initial, AtomicBoolean stop) {
        if (initial.tokens() != config.virtualTokens() || initial.width() != objective.width()) {
            throw new IllegalArgumentException("the initial prompt is " + initial.tokens() + " × " + initial.width()
                    + ", but the run needs " + config.virtualTokens() + " × " + objective.width());
        }
        prepareEmptyFolder(out);
        TrainingState state = new TrainingState(config, initial.tokens(), initial.width(), initial.values(),
                objective.dataFingerprint());
        return run(out, state, new MetricsLog(), stop);
    }

    /**
     * Continues the run saved in {@code from}, writing its checkpoints to {@code out} ({@code from} itself, or
     * a missing or empty folder). This trainer's configuration must agree with the saved one on everything
     * that decides the trajectory, and its data must be the saved run's.
     *
     * @throws TrainingStateException naming the folder and what does not fit
     */
    public TrainingResult resume(Path from, Path out, AtomicBoolean stop) {
        Path stateFile = from.resolve(TrainingState.FILE);
        TrainingState state = TrainingState.read(stateFile, config);
        if (state.width != objective.width()) {
            throw new TrainingStateException(stateFile + " holds a prompt " + state.width + " wide, but "
                    + objective.modelName() + " has hidden size " + objective.width() + "; resume with the model it"
                    + " was trained on");
        }
        if (!state.dataFingerprint.equals(objective.dataFingerprint())) {
            throw new TrainingStateException(from + " was trained on other examples (data sha256 "
                    + state.dataFingerprint + ", now " + objective.dataFingerprint() + "); resume with the same --data"
                    + " and --eval or --eval-split, and the same --seed and --max-length");
        }
        if (!Checkpoint.markerMatchesState(from)) {
            listener.note(from + ": " + Checkpoint.MARKER + " does not match " + TrainingState.FILE + " (the last save"
                    + " stopped part-way); continuing from the training state at step " + state.step);
        }
        MetricsLog metrics = MetricsLog.read(from.resolve(MetricsLog.FILE), state.step);
        if (!from.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            prepareEmptyFolder(out);
            Path best = from.resolve(Checkpoint.BEST);
            if (Files.isDirectory(best)) {
                PeftAdapter saved = PeftAdapter.read(best);
                PeftAdapter.write(out.resolve(Checkpoint.BEST), saved.embeddings(), saved.virtualTokens(),
                        saved.width(), adapterConfig);
            }
        }
        Checkpoint.deleteLeftovers(out);
        return run(out, state, metrics, stop);
    }

    private TrainingResult run(Path out, TrainingState state, MetricsLog metrics, AtomicBoolean stop) {
        EpochShuffle cursor = new EpochShuffle(objective.trainSize(), config.seed(), state.epoch, state.position);
        List<TrainingObjective.Batch> evalBatches = evalBatches();
        boolean hasEval = !evalBatches.isEmpty();
        String title = objective.modelName() + ": " + config.virtualTokens() + " virtual tokens, "
                + config.optimizer().cliName() + " lr " + config.lr();
        listener.started(plan, state.step, objective.dataDescription());
        long started = System.nanoTime();
        Checkpoint.Status status;
        try (TrainingStep step = new TrainingStep(objective.backend(), config.virtualTokens(), objective.width())) {
            if (state.step == 0 && metrics.isEmpty() && hasEval) {
                evaluate(step, state, metrics, evalBatches, out);
            }
            // A checkpoint before the first step: a new folder is an adapter from the start, a resumed one is
            // consistent again (its adapter and marker may lag its state), and the first save, which loads
            // java.awt for the loss curve, cannot fall in a Ctrl-C, when the JVM refuses to load it.
            save(out, state, metrics, Checkpoint.Status.RUNNING, title);
            while (true) {
                if (state.step >= plan.totalSteps()) {
                    status = Checkpoint.Status.FINISHED;
                    break;
                }
                if (config.earlyStop() > 0 && state.evalsSinceBest >= config.earlyStop()) {
                    status = Checkpoint.Status.EARLY_STOPPED;
                    break;
                }
                if (stop.get()) {
                    status = Checkpoint.Status.INTERRUPTED;
                    break;
                }
                List<TrainingObjective.Batch> microBatches = nextMicroBatches(cursor);
                double lr = plan.schedule().rate(state.step);
                long stepStart = System.nanoTime();
                TrainingStep.Result result = null;
                NonFiniteStepException nonFinite = null;
                try {
                    result = step.run(state.prompt, microBatches, state.optimizer, lr, config.clip());
                } catch (NonFiniteStepException e) {
                    nonFinite = e;
                    stopIfNonFiniteLimit(e, state, metrics, out, title);
                }
                long stepEnd = System.nanoTime();
                state.step++;
                state.epoch = cursor.epoch();
                state.position = cursor.position();
                if (nonFinite != null) {
                    skip(nonFinite, state, metrics, lr, (stepEnd - started) / 1e9);
                } else {
                    state.nonFiniteInARow = 0;
                    double tokensPerSecond = result.tokens() / Math.max(1e-9, (stepEnd - stepStart) / 1e9);
                    metrics.add(new MetricsLog.Entry(state.step, plan.epochAfter(state.step), result.loss(), null, lr,
                            result.gradNorm(), tokensPerSecond));
                    listener.stepDone(new TrainingListener.StepReport(state.step, plan.totalSteps(),
                            plan.epochAfter(state.step), result.loss(), lr, result.gradNorm(), tokensPerSecond,
                            (stepEnd - started) / 1e9, state.prompt()));
                }
                if (hasEval && (state.step % plan.evalEvery() == 0 || state.step == plan.totalSteps())) {
                    evaluate(step, state, metrics, evalBatches, out);
                }
                if (state.step % plan.saveEvery() == 0 && state.step < plan.totalSteps()) {
                    save(out, state, metrics, Checkpoint.Status.RUNNING, title);
                }
            }
        }
        save(out, state, metrics, status, title);
        double lastLoss = Double.NaN, lastEval = Double.NaN;
        for (MetricsLog.Entry entry : metrics.entries()) {
            if (entry.loss() != null) lastLoss = entry.loss();
            if (entry.evalLoss() != null) lastEval = entry.evalLoss();
        }
        return new TrainingResult(status, state.step, plan.totalSteps(), lastLoss, lastEval, state.bestEvalLoss,
                state.bestStep, out);
    }

    private void evaluate(TrainingStep step, TrainingState state, MetricsLog metrics,
                          List<TrainingObjective.Batch> evalBatches, Path out) {
        double evalLoss = step.evaluate(state.prompt, evalBatches);
        if (!Double.isFinite(evalLoss)) {
            throw new IllegalStateException("step " + state.step + ": the held-out loss is " + evalLoss
                    + "; training diverged: lower --lr (now " + config.lr() + ") or set --clip");
        }
        boolean best = Double.isNaN(state.bestEvalLoss) || evalLoss < state.bestEvalLoss;
        if (best) {
            state.bestEvalLoss = evalLoss;
            state.bestStep = state.step;
            state.evalsSinceBest = 0;
            Checkpoint.saveBest(out, state, adapterConfig);
        } else {
            state.evalsSinceBest++;
        }
        metrics.addEvalLoss(state.step, plan.epochAfter(state.step), evalLoss);
        listener.evaluated(state.step, evalLoss, best);
    }

    /**
     * Returns if the step that {@code e} stopped may be skipped; otherwise (--on-nonfinite stop, or the
     * --max-nonfinite'th such step in a row) saves the checkpoint of {@code state}, whose prompt is the last
     * finite one, and throws.
     */
    private void stopIfNonFiniteLimit(NonFiniteStepException e, TrainingState state, MetricsLog metrics, Path out,
                                      String title) {
        boolean skipping = config.onNonFinite() == TrainingConfig.NonFiniteAction.SKIP;
        if (skipping && state.nonFiniteInARow + 1 < config.maxNonFinite()) return;
        save(out, state, metrics, Checkpoint.Status.DIVERGED, title);
        int inARow = state.nonFiniteInARow + 1;
        String rule = !skipping ? " (--on-nonfinite stop)" : ": " + (inARow == 1 ? "a step was" : inARow
                + " steps in a row were") + " not finite (--max-nonfinite " + config.maxNonFinite() + ")";
        throw new IllegalStateException("step " + (state.step + 1) + ": " + e.reason() + "; training diverged and"
                + " stopped" + rule + "; the checkpoint of step " + state.step + " in " + out + " holds the last"
                + " finite prompt: lower --lr (now " + config.lr() + ") or set --clip (now " + config.clip() + ") and"
                + " start again from it with --init adapter:" + out + " --out NEW_DIR", e);
    }

    /** Records step {@code state.step} as skipped: nothing changed but the count and the data cursor. */
    private void skip(NonFiniteStepException e, TrainingState state, MetricsLog metrics, double lr, double seconds) {
        state.nonFiniteInARow++;
        state.skippedSteps++;
        metrics.add(new MetricsLog.Entry(state.step, plan.epochAfter(state.step), null, null, lr, null, null,
                e.reason()));
        listener.warning("step " + state.step + ": " + e.getMessage() + "; the step is skipped ("
                + state.nonFiniteInARow + " in a row; the run stops at " + config.maxNonFinite() + ")");
        listener.stepDone(new TrainingListener.StepReport(state.step, plan.totalSteps(), plan.epochAfter(state.step),
                Double.NaN, lr, Double.NaN, 0, seconds, state.prompt()));
    }

    private void save(Path out, TrainingState state, MetricsLog metrics, Checkpoint.Status status, String title) {
        Checkpoint.save(out, state, config, plan, metrics, adapterConfig, status, title, fileObserver);
        listener.checkpointSaved(state.step, out);
    }

    /** The next {@code gradAccum} micro-batches of {@code batch} training examples each. */
    private List<TrainingObjective.Batch> nextMicroBatches(EpochShuffle cursor) {
        List<TrainingObjective.Batch> microBatches = new ArrayList<>(config.gradAccum());
        for (int m = 0; m < config.gradAccum(); m++) {
            int[] indices = new int[config.batch()];
            for (int i = 0; i < indices.length; i++) indices[i] = cursor.next();
            microBatches.add(objective.trainBatch(indices, config.virtualTokens()));
        }
        return microBatches;
    }

    /** The held-out examples in file order, {@code batch} at a time. */
    private List<TrainingObjective.Batch> evalBatches() {
        List<TrainingObjective.Batch> batches = new ArrayList<>();
        int size = objective.evalSize();
        for (int from = 0; from < size; from += config.batch()) {
            batches.add(objective.evalBatch(from, Math.min(size, from + config.batch()), config.virtualTokens()));
        }
        return batches;
    }

    private static void prepareEmptyFolder(Path out) {
        try {
            if (Files.isDirectory(out)) {
                try (Stream<Path> entries = Files.list(out)) {
                    if (entries.findAny().isPresent()) {
                        throw new IllegalArgumentException("--out " + out + " is not empty; training writes a new"
                                + " adapter folder: choose a new folder, or continue the run in it with --resume "
                                + out);
                    }
                }
            } else if (Files.exists(out)) {
                throw new IllegalArgumentException("--out " + out + " is a file; name a folder");
            }
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the output folder " + out + ": " + e.getMessage(), e);
        }
    }
}
