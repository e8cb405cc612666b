package dev.promptgrad.prompt;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.List;

/**
 * One soft-prompt training step on a fixed batch, repeated: rewind the tape, the loss through the frozen model,
 * dLoss/dPrompt, an AdamW update of the prompt on the host and its upload. What {@code promptgrad bench step}
 * and the JMH step benchmark time; it is not a trainer (no data loading, schedule or checkpoints).
 * After the first step it allocates no backend memory.
 */
public final class PromptTuningStep implements AutoCloseable {
    private final LanguageModel model;
    private final TokenBatch batch;
    private final Scope scope;
    private final Workspace workspace;
    private final Tape tape;
    private final Tensor promptValues;   // (P, dim) on the backend
    private final float[] prompt;        // (P · dim) on the host, the optimizer's copy
    private final Adam adamw;
    private final double learningRate;

    /** A step of {@code model} on {@code batch} for a prompt of {@code initialPrompt.length / dim} rows. */
    public PromptTuningStep(LanguageModel model, TokenBatch batch, float[] initialPrompt, double learningRate) {
        int dim = model.dim();
        if (initialPrompt.length == 0 || initialPrompt.length % dim != 0) {
            throw new IllegalArgumentException("a soft prompt for " + model.name() + " needs a whole number of rows of "
                    + dim + " values, not " + initialPrompt.length);
        }
        int rows = initialPrompt.length / dim;
        this.model = model;
        this.batch = batch;
        this.learningRate = learningRate;
        Backend backend = model.backend();
        scope = new Scope(backend, "prompt");
        workspace = new Workspace(backend, "prompt tuning step");
        tape = new Tape(backend, workspace);
        promptValues = scope.of(initialPrompt, rows, dim);
        prompt = initialPrompt.clone();
        adamw = new Adam(List.of(Parameter.of("prompt_embeddings", rows, dim)), Adam.Settings.ADAMW);
    }

    /** One step; returns the loss before the update. */
    public double run() {
        tape.reset();
        Variable p = tape.parameter(promptValues, "prompt_embeddings");
        Variable loss = model.loss(tape, batch, p);
        float[] dPrompt = model.backend().download(tape.backward(loss).of(p));
        double value = model.backend().downloadDouble(loss.value())[0];
        adamw.step(List.of(prompt), List.of(dPrompt), learningRate);
        model.backend().upload(prompt, promptValues);
        return value;
    }

    /** Where the step's activations and gradients live (its allocation count shows a step allocates nothing). */
    public Workspace workspace() {
        return workspace;
    }

    /** The prompt as the optimizer last left it, (P · dim) values. */
    public float[] prompt() {
        return prompt.clone();
    }

    @Override
    public void close() {
        workspace.close();
        scope.close();
    }
}
