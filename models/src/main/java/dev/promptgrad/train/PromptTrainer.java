package dev.promptgrad.train;

import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
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
 * {@link TrainingStep} at the schedule's rate, evaluates the held-out examples (at step 0 and every
 * {@code evalEvery} steps, keeping the best prompt in {@code best/}), stops early when they stop improving,
 * and writes a {@link Checkpoint} when it starts or resumes, every {@code saveEvery} steps and at the end.
 * Setting the stop flag (the command line does it on Ctrl-C) ends the run after the current step with a
 * checkpoint. A step whose loss or gradient is not finite changes nothing: it is skipped with a warning, or
 * the run stops with the last finite prompt saved ({@link TrainingConfig#onNonFinite()}). Nothing in a run
 * depends on the clock or on thread scheduling, so the same model, data,
 * configuration and seed give the same prompt bit for bit, and {@link #resume} continues a stopped run
 * exactly as if it had not stopped.
 */
public final class PromptTrainer {
    private final LanguageModel model;
    private final TrainingData data;
    private final TrainingConfig config;
    private final TrainingPlan plan;
    private final TrainingListener listener;
    private final int padId;
    private final PeftAdapter.TuningConfig adapterConfig;
    private Checkpoint.FileObserver fileObserver = Checkpoint.FileObserver.NONE;

    /**
     * @param padId the id right-padded sequences are filled with (the tokenizer's pad, else 0); the loss does
     *              not depend on it, since pads are masked and unlabelled
     */
    public PromptTrainer(LanguageModel model, TrainingData data, TrainingConfig config, int padId,
                         TrainingListener listener) {
        int room = model.contextLength() - config.virtualTokens();
        if (room < 1) {
            throw new IllegalArgumentException("--virtual-tokens " + config.virtualTokens() + " leaves no room for"
                    + " tokens in " + model.name() + ", which reads at most " + model.contextLength() + " positions");
        }
        if (config.maxLength() > room) {
            throw new IllegalArgumentException("--max-length " + config.maxLength() + " is more than the " + room
                    + " tokens that fit after " + config.virtualTokens() + " virtual tokens in " + model.name()
                    + "'s context of " + model.contextLength());
        }
        for (List<Example> set : List.of(data.train(), data.eval())) {
            for (Example example : set) {
                if (example.length() > room) {
                    throw new IllegalArgumentException("an example has " + example.length() + " tokens, more than the "
                            + room + " that fit after the prompt; read the data with a maximum length of " + room);
                }
            }
        }
        if (config.earlyStop() > 0 && !data.hasEval()) {
            throw new IllegalArgumentException("--early-stop needs held-out data: give --eval FILE or"
                    + " --eval-split SHARE");
        }
        this.model = model;
        this.data = data;
        this.config = config;
        this.plan = TrainingPlan.of(config, data.train().size());
        this.listener = listener;
        this.padId = padId;
        boolean text = config.init().kind() == TrainingConfig.Init.Kind.TEXT;
        this.adapterConfig = new PeftAdapter.TuningConfig(config.baseModel(), model.layers(), model.heads(),
                config.init().peftName(), text ? config.init().argument() : null,
                text ? (config.tokenizer() != null ? config.tokenizer() : config.baseModel()) : null);
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
        if (initial.tokens() != config.virtualTokens() || initial.width() != model.dim()) {
            throw new IllegalArgumentException("the initial prompt is " + initial.tokens() + " × " + initial.width()
                    + ", but the run needs " + config.virtualTokens() + " × " + model.dim());
        }
        prepareEmptyFolder(out);
        TrainingState state = new TrainingState(config, initial.tokens(), initial.width(), initial.values(),
                data.fingerprint());
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
        if (state.width != model.dim()) {
            throw new TrainingStateException(stateFile + " holds a prompt " + state.width + " wide, but " + model.name()
                    + " has hidden size " + model.dim() + "; resume with the model it was trained on");
        }
        if (!state.dataFingerprint.equals(data.fingerprint())) {
            throw new TrainingStateException(from + " was trained on other examples (data sha256 "
                    + state.dataFingerprint + ", now " + data.fingerprint() + "); resume with the same --data and"
                    + " --eval or --eval-split, and the same --seed and --max-length");
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
        EpochShuffle cursor = new EpochShuffle(data.train().size(), config.seed(), state.epoch, state.position);
        List<TokenBatch> evalBatches = batches(data.eval());
        String title = model.name() + ": " + config.virtualTokens() + " virtual tokens, " + config.optimizer().cliName()
                + " lr " + config.lr();
        listener.started(plan, state.step, data.description());
        long started = System.nanoTime();
        Checkpoint.Status status;
        try (TrainingStep step = new TrainingStep(model, config.virtualTokens())) {
            if (state.step == 0 && metrics.isEmpty() && data.hasEval()) {
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
                List<TokenBatch> microBatches = nextMicroBatches(cursor);
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
                if (data.hasEval() && (state.step % plan.evalEvery() == 0 || state.step == plan.totalSteps())) {
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

    private void evaluate(TrainingStep step, TrainingState state, MetricsLog metrics, List<TokenBatch> evalBatches,
                          Path out) {
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
        listener.warning("step " + state.step + ": " + e.getMessage() + "; the step is skipped (" + state.nonFiniteInARow
                + " in a row; the run stops at " + config.maxNonFinite() + ")");
        listener.stepDone(new TrainingListener.StepReport(state.step, plan.totalSteps(), plan.epochAfter(state.step),
                Double.NaN, lr, Double.NaN, 0, seconds, state.prompt()));
    }

    private void save(Path out, TrainingState state, MetricsLog metrics, Checkpoint.Status status, String title) {
        Checkpoint.save(out, state, config, plan, metrics, adapterConfig, status, title, fileObserver);
        listener.checkpointSaved(state.step, out);
    }

    /** The next {@code gradAccum} micro-batches of {@code batch} examples each, padded on the right. */
    private List<TokenBatch> nextMicroBatches(EpochShuffle cursor) {
        List<TokenBatch> microBatches = new ArrayList<>(config.gradAccum());
        for (int m = 0; m < config.gradAccum(); m++) {
            List<Example> examples = new ArrayList<>(config.batch());
            for (int i = 0; i < config.batch(); i++) examples.add(data.train().get(cursor.next()));
            microBatches.add(RightPadding.batch(examples, padId));
        }
        return microBatches;
    }

    /** {@code examples} in file order, {@code batch} at a time. */
    private List<TokenBatch> batches(List<Example> examples) {
        List<TokenBatch> batches = new ArrayList<>();
        for (int from = 0; from < examples.size(); from += config.batch()) {
            int to = Math.min(examples.size(), from + config.batch());
            batches.add(RightPadding.batch(examples.subList(from, to), padId));
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
