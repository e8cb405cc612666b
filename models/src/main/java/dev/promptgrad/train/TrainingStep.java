package dev.promptgrad.train;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.optim.GradientClipping;
import dev.promptgrad.optim.Optimizer;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One optimizer step of a soft prompt on a frozen model: forward and backward of each micro-batch (the
 * workspace is rewound before each, so a step allocates no backend memory once shapes repeat), the
 * micro-batches' losses and gradients combined, global-norm clipping, and the optimizer's update of the host
 * copy of the prompt. A step whose loss, gradient norm or update is NaN or infinite changes nothing and throws
 * {@link NonFiniteStepException}. Also the evaluation loss, without backward. The loss of a micro-batch is its
 * {@link TrainingObjective.Batch}'s. It owns the workspace and the prompt tensor; it does not choose examples,
 * schedule the rate or save anything.
 *
 * <p>Gradient accumulation: micro-batch i's loss L_i is a mean over its n_i scored things (labelled tokens for a
 * causal LM, see {@link TrainingObjective.Batch#weight}), so the step's loss is {@code Σ n_i·L_i / N} and its
 * gradient {@code Σ (n_i / N)·g_i} with N = Σ n_i, summed in double and rounded once: the mean over everything
 * the step scores, as one big batch would give (to float32 rounding; with one micro-batch the gradient is the
 * tape's, bit for bit).
 */
public final class TrainingStep implements AutoCloseable {

    /**
     * What one step did.
     *
     * @param labelledTokens the step's total {@link TrainingObjective.Batch#weight}: labelled tokens for a causal LM
     */
    public record Result(double loss, double gradNorm, long labelledTokens, long tokens) {
    }

    private final Backend backend;
    private final int promptRows;
    private final Workspace workspace;
    private final Scope scope;
    private final Tape tape;
    private final Tensor promptValues;   // (P, dim) on the backend
    private final float[] gradient;      // (P · dim) the step's combined dLoss/dPrompt
    private final double[] sum;          // (P · dim) the weighted sum of micro-batch gradients
    private final float[] before;        // (P · dim) the prompt before the optimizer's update, to undo it

    /** Steps for a causal LM's prompt of {@code promptRows}, which must leave room for a token in its context. */
    public TrainingStep(LanguageModel model, int promptRows) {
        this(model.backend(), fitting(model, promptRows), model.dim());
    }

    private static int fitting(LanguageModel model, int promptRows) {
        if (promptRows >= model.contextLength()) {
            throw new IllegalArgumentException("a prompt of " + promptRows + " rows does not fit " + model.name()
                    + ", which reads at most " + model.contextLength() + " positions");
        }
        return promptRows;
    }

    /** Steps for a prompt of {@code promptRows} rows {@code width} wide, on {@code backend}. */
    public TrainingStep(Backend backend, int promptRows, int width) {
        if (promptRows < 1 || width < 1) {
            throw new IllegalArgumentException("a prompt needs at least one row and one column, got "
                    + promptRows + " × "
                    + width);
        }
        this.backend = backend;
        this.promptRows = promptRows;
        this.workspace = new Workspace(backend, "training step");
        this.scope = new Scope(backend, "soft prompt");
        this.tape = new Tape(backend, workspace);
        this.promptValues = scope.allocate(promptRows, width);
        this.gradient = new float[promptRows * width];
        this.sum = new double[gradient.length];
        this.before = new float[gradient.length];
    }

    /**
     * Moves {@code prompt} (P · dim, in place) one step against the mean loss of {@code microBatches}.
     *
     * @param clip the global-norm bound; 0 for none
     * @throws NonFiniteStepException if the loss or the gradient norm is not finite, or the update would make
     *                                the prompt or the optimizer's moments so; nothing is changed then
     */
    public Result run(float[] prompt, List<? extends TrainingObjective.Batch> microBatches, Optimizer optimizer,
                      double lr, double clip) {
        long[] labelled = new long[microBatches.size()];
        long total = 0, tokens = 0;
        for (int i = 0; i < labelled.length; i++) {
            labelled[i] = microBatches.get(i).weight();
            total += labelled[i];
            tokens += microBatches.get(i).tokens();
        }
        if (total == 0) {
            throw new IllegalArgumentException("nothing to score (no labelled token) in this step's examples");
        }
        backend.upload(prompt, promptValues);
        Arrays.fill(sum, 0);
        double loss = 0;
        for (int i = 0; i < labelled.length; i++) {
            if (labelled[i] == 0) continue;
            tape.reset();
            Variable p = tape.parameter(promptValues, "prompt_embeddings");
            Variable microLoss = microBatches.get(i).loss(tape, p);
            double weight = (double) labelled[i] / total;
            loss += weight * backend.downloadDouble(microLoss.value())[0];
            float[] dPrompt = backend.download(tape.backward(microLoss).of(p));   // (P, dim)
            for (int j = 0; j < dPrompt.length; j++) sum[j] += weight * dPrompt[j];
        }
        tape.reset();
        for (int j = 0; j < gradient.length; j++) gradient[j] = (float) sum[j];
        if (!Double.isFinite(loss)) throw new NonFiniteStepException("the loss is " + loss);
        // GradientClipping leaves the gradient alone and returns the norm when it is not finite
        double norm = clip > 0 ? GradientClipping.clipByGlobalNorm(gradient, clip) : l2Norm(gradient);
        if (!Double.isFinite(norm)) {
            throw new NonFiniteStepException("the gradient norm is " + norm + " at loss " + loss);
        }
        System.arraycopy(prompt, 0, before, 0, before.length);
        int stepsBefore = optimizer.steps();
        Map<String, float[]> momentsBefore = optimizer.state();
        optimizer.step(prompt, gradient, lr);
        String overflow = firstNonFinite(prompt, optimizer.state());
        if (overflow != null) {
            System.arraycopy(before, 0, prompt, 0, before.length);
            optimizer.restore(stepsBefore, momentsBefore);
            throw new NonFiniteStepException("the update made " + overflow + " at loss " + loss + " and gradient norm "
                    + norm);
        }
        return new Result(loss, norm, total, tokens);
    }

    /** The mean loss over everything {@code batches} score, with {@code prompt} fixed (no backward). */
    public double evaluate(float[] prompt, List<? extends TrainingObjective.Batch> batches) {
        backend.upload(prompt, promptValues);
        double weighted = 0;
        long total = 0;
        for (TrainingObjective.Batch batch : batches) {
            long n = batch.weight();
            if (n == 0) continue;
            tape.reset();
            Variable loss = batch.loss(tape, tape.constant(promptValues, "prompt_embeddings"));
            weighted += n * backend.downloadDouble(loss.value())[0];
            total += n;
        }
        tape.reset();
        if (total == 0) {
            throw new IllegalArgumentException("nothing to score (no labelled token) in the held-out examples");
        }
        return weighted / total;
    }

    public int promptRows() {
        return promptRows;
    }

    /** "prompt_embeddings[i] Infinity" or "optimizer slot[i] NaN" for the first non-finite value, else null. */
    private static String firstNonFinite(float[] prompt, Map<String, float[]> moments) {
        for (int i = 0; i < prompt.length; i++) {
            if (!Float.isFinite(prompt[i])) return "prompt_embeddings[" + i + "] " + prompt[i];
        }
        for (Map.Entry<String, float[]> slot : moments.entrySet()) {
            float[] values = slot.getValue();
            for (int i = 0; i < values.length; i++) {
                if (!Float.isFinite(values[i])) return "optimizer " + slot.getKey() + "[" + i + "] " + values[i];
            }
        }
        return null;
    }

    private static double l2Norm(float[] values) {
        double squares = 0;
        for (float v : values) squares += (double) v * v;
        return Math.sqrt(squares);
    }

    @Override
    public void close() {
        scope.close();
        workspace.close();
    }
}
