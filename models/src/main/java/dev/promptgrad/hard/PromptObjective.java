package dev.promptgrad.hard;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The mean loss over the labelled tokens of examples with a hard prompt inserted ({@link PromptPlacement}):
 * {@link #losses} scores many prompts with forward passes only, (prompts × examples) rows in as few forwards as a
 * memory budget allows; {@link #gradient} returns dL/dE_rows, the gradient with respect to the prompt tokens'
 * embedding rows, from one forward and backward. Owns its workspace; the model stays the caller's.
 */
public final class PromptObjective implements AutoCloseable {

    /** The default activation memory of one forward: 1 GiB. */
    public static final long DEFAULT_MEMORY_BUDGET = 1L << 30;

    private final LanguageModel model;
    private final Backend backend;
    private final PromptPlacement placement;
    private final int padId;
    private final long memoryBudget;
    private final long floatsPerPosition;   // estimated activation floats of one position, less attention scores
    private final Workspace workspace;
    private final Tape tape;
    private long forwards;

    /** The loss at one prompt and dL/dE_rows (prompt length, dim), row-major. */
    public record Gradient(double loss, float[] dPromptRows) {
    }

    /**
     * @param padId        fills the right padding (masked)
     * @param memoryBudget the bytes of activations one batched forward of {@link #losses} may take (an estimate
     *                     from the model's shapes); at least one row always runs
     */
    public PromptObjective(LanguageModel model, PromptPlacement placement, int padId, long memoryBudget) {
        if (memoryBudget < 1) throw new IllegalArgumentException("the memory budget must be positive, got " + memoryBudget);
        this.model = model;
        this.backend = model.backend();
        this.placement = placement;
        this.padId = padId;
        this.memoryBudget = memoryBudget;
        long weights = model.weights().bytes() / Float.BYTES;
        long perLayer = Math.max(0, weights - (long) model.vocabSize() * model.dim()) / model.layers();
        // each layer keeps about two activations per output feature of its matrices, plus norms and residuals
        this.floatsPerPosition = model.layers() * (2 * perLayer / model.dim() + 10L * model.dim())
                + model.vocabSize() + 4L * model.dim();
        this.workspace = new Workspace(backend, "hard prompt objective");
        this.tape = new Tape(backend, workspace);
    }

    public LanguageModel model() {
        return model;
    }

    public PromptPlacement placement() {
        return placement;
    }

    /** {@code examples} with {@code prompt} inserted into each. */
    public List<Example> prompted(int[] prompt, List<Example> examples) {
        List<Example> out = new ArrayList<>(examples.size());
        for (Example example : examples) out.add(placement.insert(example, prompt));
        return out;
    }

    /** The mean loss over every labelled token of {@code examples} with {@code prompt} (empty: no prompt). */
    public double loss(int[] prompt, List<Example> examples) {
        return losses(List.of(prompt), examples)[0];
    }

    /**
     * The loss of each prompt on {@code examples}, forward passes only: rows are (prompt, example) pairs in
     * prompt-major order, right-padded, {@link #rowsPerForward} of them per forward.
     *
     * @throws IllegalArgumentException if a prompted example does not fit the model's context, or a prompt
     *                                  leaves no labelled token
     */
    public double[] losses(List<int[]> prompts, List<Example> examples) {
        if (prompts.isEmpty()) return new double[0];
        if (examples.isEmpty()) throw new IllegalArgumentException("a loss needs at least one example");
        int rows = prompts.size() * examples.size();
        int longest = 0;
        for (int[] prompt : prompts) {
            checkIds(prompt);
            for (Example example : examples) longest = Math.max(longest, example.length() + prompt.length);
        }
        checkFits(longest);
        double[] nll = new double[prompts.size()];
        long[] tokens = new long[prompts.size()];
        int perForward = rowsPerForward(longest);
        for (int from = 0; from < rows; from += perForward) {
            int to = Math.min(rows, from + perForward);
            List<Example> chunk = new ArrayList<>(to - from);
            for (int r = from; r < to; r++) {
                chunk.add(placement.insert(examples.get(r % examples.size()), prompts.get(r / examples.size())));
            }
            TokenBatch batch = RightPadding.batch(chunk, padId);
            int width = batch.length();
            int[] targets = batch.nextTokenTargets(0);                                        // (rows, T)
            tape.reset();
            Tensor logits = model.logits(tape, batch, null).value();                          // (rows, T, vocab)
            forwards++;
            // one cross-entropy call per prompt's run of consecutive rows in this chunk
            for (int start = from; start < to; ) {
                int prompt = start / examples.size();
                int end = Math.min(to, (prompt + 1) * examples.size());
                int[] slice = Arrays.copyOfRange(targets, (start - from) * width, (end - from) * width);
                int scored = 0;
                for (int target : slice) if (target != CrossEntropy.IGNORE) scored++;
                if (scored > 0) {
                    Tensor run = logits.slice(start - from, end - from).view((end - start) * width, model.vocabSize());
                    // PyTorch: F.cross_entropy(logits[rows, :-1].flatten(0, 1), labels[rows, 1:].flatten(), reduction="sum")
                    nll[prompt] += backend.crossEntropy(run, slice, 0, null);
                    tokens[prompt] += scored;
                }
                start = end;
            }
        }
        tape.reset();
        double[] losses = new double[prompts.size()];
        for (int p = 0; p < losses.length; p++) {
            if (tokens[p] == 0) {
                throw new IllegalArgumentException("no token of the examples is labelled"
                        + (prompts.get(p).length == 0 ? " (without a prompt the first token of a sequence is never scored)"
                        : "") + "; there is no loss");
            }
            losses[p] = nll[p] / tokens[p];
        }
        return losses;
    }

    /**
     * One forward and backward at {@code prompt} (at least one token) on {@code examples}, all in one batch:
     * the mean loss and dL/dE_rows, the gradient with respect to the prompt tokens' embedding rows, summed over
     * the examples.
     */
    public Gradient gradient(int[] prompt, List<Example> examples) {
        if (prompt.length == 0) throw new IllegalArgumentException("a gradient needs a prompt of at least one token");
        if (examples.isEmpty()) throw new IllegalArgumentException("a gradient needs at least one example");
        checkIds(prompt);
        List<Example> chunk = prompted(prompt, examples);
        int[] offsets = new int[examples.size()];
        for (int b = 0; b < offsets.length; b++) offsets[b] = placement.offset(examples.get(b).inputIds());
        TokenBatch batch = RightPadding.batch(chunk, padId);
        checkFits(batch.length());
        int size = batch.size(), width = batch.length(), dim = model.dim();
        tape.reset();
        Tensor inputs = tape.allocate(size, width, dim);                                      // (batch, T, dim)
        // PyTorch (GCG): embeds = cat([embed(before), one_hot @ E, embed(after)], dim=1)
        backend.gather(model.embeddingTable(), batch.ids(), inputs.view(size * width, dim));
        Variable embeddings = tape.parameter(inputs, "input embeddings");
        Variable logits = model.forward(tape, embeddings, keyMask(batch), null, null);        // (batch, T, vocab)
        Variable loss = CrossEntropy.apply(tape, logits, batch.nextTokenTargets(0));
        forwards++;
        double value = backend.downloadDouble(loss.value())[0];
        float[] dInputs = backend.download(tape.backward(loss).of(embeddings));               // (batch, T, dim)
        tape.reset();
        double[] sum = new double[prompt.length * dim];
        for (int b = 0; b < size; b++) {
            for (int i = 0; i < prompt.length; i++) {
                int at = (b * width + offsets[b] + i) * dim;
                for (int c = 0; c < dim; c++) sum[i * dim + c] += dInputs[at + c];
            }
        }
        float[] dRows = new float[sum.length];                                                // (P, dim)
        for (int j = 0; j < dRows.length; j++) dRows[j] = (float) sum[j];
        return new Gradient(value, dRows);
    }

    /** How many (prompt, example) rows of {@code length} tokens one forward of {@link #losses} takes. */
    public int rowsPerForward(int length) {
        long floats = (long) length * (floatsPerPosition + 2L * model.layers() * model.heads() * length);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, memoryBudget / (floats * Float.BYTES)));
    }

    /** Forward passes run so far (batched forwards of {@link #losses} and those of {@link #gradient}). */
    public long forwards() {
        return forwards;
    }

    private Tensor keyMask(TokenBatch batch) {
        int[] mask = batch.modelAttentionMask(0);
        if (mask == null) return null;
        float[] values = new float[mask.length];
        for (int i = 0; i < mask.length; i++) values[i] = mask[i];
        Tensor keyMask = tape.allocate(batch.size(), batch.length());                          // (batch, T)
        backend.upload(values, keyMask);
        return keyMask;
    }

    private void checkIds(int[] prompt) {
        for (int id : prompt) {
            if (id < 0 || id >= model.vocabSize()) {
                throw new IllegalArgumentException("prompt token " + id + " is outside " + model.name()
                        + "'s vocabulary [0, " + model.vocabSize() + ")");
            }
        }
    }

    private void checkFits(int length) {
        if (length > model.contextLength()) {
            throw new IllegalArgumentException("an example with the prompt has " + length + " tokens, more than the "
                    + model.contextLength() + " positions " + model.name() + " reads; shorten the examples or the prompt");
        }
    }

    /** Frees the activations; the model stays open. */
    @Override
    public void close() {
        workspace.close();
    }
}
