package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.ops.GatherRows;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.util.Arrays;
import java.util.List;

/**
 * What {@link Gpt2} and {@link Llama} share and do not compute: the name, the weights and their check
 * against the architecture's {@link WeightSpec}s, the checks of a forward pass's inputs, and closing.
 * The blocks themselves are in the subclasses, one file per architecture.
 */
abstract class CausalTransformer implements LanguageModel {
    private final String name;
    private final Weights weights;

    /** Takes ownership of {@code weights}: they are closed here if they do not match {@code specs}. */
    CausalTransformer(String name, Weights weights, List<WeightSpec> specs) {
        this.name = name;
        this.weights = weights;
        try {
            checkWeights(specs);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    private void checkWeights(List<WeightSpec> specs) {
        for (WeightSpec spec : specs) {
            if (!weights.contains(spec.name())) {
                throw new IllegalArgumentException(name + ": weight '" + spec.name() + "' "
                        + Arrays.toString(spec.shape()) + " is missing from " + weights.label());
            }
            Tensor t = weights.get(spec.name());
            if (!Arrays.equals(t.shape(), spec.shape())) {
                throw new IllegalArgumentException(name + ": weight '" + spec.name() + "' has shape "
                        + Arrays.toString(t.shape()) + " but the configuration needs " + Arrays.toString(spec.shape()));
            }
        }
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final Weights weights() {
        return weights;
    }

    @Override
    public final Backend backend() {
        return weights.backend();
    }

    /** Width of one position's keys (or values): kvHeads · headSize. */
    abstract int kvWidth();

    /** The LM head (vocab, dim): the token embedding table when tied. */
    abstract Tensor head();

    /**
     * {@link #forward} up to the residual stream after the last block: no final norm, no head. The result is
     * [batch, T, dim], or [batch, outputs, dim] for the last {@code outputs} positions of each sequence when the
     * architecture can skip the others in its last block (no position after them depends on that block's rows);
     * {@code outputs} is T when every position is wanted.
     */
    abstract Variable blocks(Tape tape, Variable embeddings, Tensor keyMask, int[] keyPositions, KvCache cache,
                             HiddenStateHook hook, int outputs);

    /** The final normalisation, row by row over [..., dim]. */
    abstract Variable finalNorm(Tape tape, Variable x);

    @Override
    public final Variable forward(Tape tape, Variable embeddings, Tensor keyMask, int[] keyPositions, KvCache cache,
                                  HiddenStateHook hook) {
        int length = embeddings.value().rank() == 3 ? embeddings.value().dim(1) : 0;
        Variable x = finalNorm(tape, blocks(tape, embeddings, keyMask, keyPositions, cache, hook, length));
        if (hook != null) hook.finalNorm(x.value());
        // PyTorch (HF): logits = self.lm_head(hidden_states)
        return Linear.apply(tape, x, head(), Linear.Layout.OUT_IN);                         // (batch, T, vocab)
    }

    /**
     * {@link LanguageModel#loss}, computing only what reaches it: positions after the last scored one of every
     * sequence are not run at all (causal attention never lets them reach an earlier one), the last block runs its
     * queries, attention and MLP only from the earliest scored position on (where the architecture allows), and the
     * final norm, the head and the cross-entropy run on the scored rows only, with dLogits written over the logits.
     */
    @Override
    public final Variable loss(Tape tape, TokenBatch batch, Variable prompt) {
        if (!batch.hasLabels()) {
            throw new IllegalArgumentException(name()
                    + ": a loss needs labels; give the batch labels (-100 = not scored)");
        }
        int promptLength = prompt == null ? 0 : prompt.value().dim(0);
        int total = promptLength + batch.length();
        int[] targets = batch.nextTokenTargets(promptLength);                               // (batch, P + T)
        int needed = 0;                                                                      // positions that reach the loss
        for (int r = 0; r < targets.length; r++) {
            if (targets[r] != CrossEntropy.IGNORE) needed = Math.max(needed, r % total + 1);
        }
        int tokens = Math.max(1, needed - promptLength);
        TokenBatch used = tokens < batch.length() ? batch.firstTokens(tokens) : batch;
        int positions = promptLength + used.length();
        int scored = 0;
        int firstScored = positions;                                                         // earliest scored position
        for (int r = 0; r < targets.length; r++) {
            if (targets[r] == CrossEntropy.IGNORE) continue;
            scored++;
            firstScored = Math.min(firstScored, r % total);
        }
        if (scored == 0) {
            throw new IllegalArgumentException("cross entropy: all " + targets.length + " targets are "
                    + CrossEntropy.IGNORE + "; a batch needs at least one labelled position");
        }
        Variable x = blocks(tape, embed(tape, used, prompt), used.modelKeyMask(tape, promptLength), null, null, null,
                positions - firstScored);                                                    // (batch, T', dim)
        int kept = x.value().dim(1), skipped = positions - kept;                            // T' = kept positions
        int[] rows = new int[scored];                                                        // rows of (batch·T')
        int[] rowTargets = new int[scored];
        for (int r = 0, i = 0; r < targets.length; r++) {
            if (targets[r] == CrossEntropy.IGNORE) continue;
            rows[i] = r / total * kept + r % total - skipped;
            rowTargets[i++] = targets[r];
        }
        Variable hidden = finalNorm(tape, GatherRows.apply(tape, x, rows));                  // (scored, dim)
        // PyTorch (HF): loss = CrossEntropyLoss()(logits[..., :-1, :].view(-1, V), labels[..., 1:].view(-1)),
        // computed at the scored rows only
        Variable logits = Linear.apply(tape, hidden, head(), Linear.Layout.OUT_IN);         // (scored, vocab)
        return CrossEntropy.applyOverwritingLogits(tape, logits, rowTargets);
    }

    @Override
    public final KvCache newKvCache(int batch, int capacity) {
        if (capacity > 2L * contextLength()) {
            throw new IllegalArgumentException(name + ": a cache of " + capacity + " columns exceeds twice the"
                    + " context length " + contextLength() + " (a sequence's positions plus, left-padded in a batch,"
                    + " fewer pads than that)");
        }
        return new KvCache(backend(), layers(), batch, capacity, kvWidth(), name);
    }

    /**
     * Checks x [batch, T, dim], the key mask, the key positions (null, [keys] or [batch · keys]) and the cache
     * against each other and the context length; returns the column of x's first row (the cache's length).
     */
    final int checkInputs(Variable embeddings, Tensor keyMask, int[] positions, KvCache cache) {
        Tensor x = embeddings.value();
        if (x.rank() != 3 || x.dim(2) != dim()) {
            throw new IllegalArgumentException(name + ": input embeddings " + embeddings + " must be [batch, T, "
                    + dim() + "]");
        }
        int batch = x.dim(0);
        int start = 0;
        if (cache != null) {
            if (cache.layers() != layers() || cache.batch() != batch) {
                throw new IllegalArgumentException(name + ": " + cache + " does not fit " + layers()
                        + " layers and batch " + batch);
            }
            start = cache.length();
        }
        int keys = start + x.dim(1);
        if (positions == null && keys > contextLength()) {
            throw new IllegalArgumentException(name + ": " + keys + " positions (prompt rows, cached and new"
                    + " tokens) exceed the context length of " + contextLength() + "; shorten the input or the prompt");
        }
        if (positions != null) checkPositions(positions, batch, keys);
        if (keyMask != null && (keyMask.rank() != 2 || keyMask.dim(0) != batch || keyMask.dim(1) != keys)) {
            throw new IllegalArgumentException(name + ": key mask " + keyMask + " must be [batch, keys] = ["
                    + batch + ", " + keys + "]");
        }
        return start;
    }

    private void checkPositions(int[] positions, int batch, int keys) {
        if (positions.length != keys && positions.length != (long) batch * keys) {
            throw new IllegalArgumentException(name + ": " + positions.length + " key positions given for " + keys
                    + " keys in each of " + batch + " sequences; give " + keys + " (shared) or " + (long) batch * keys
                    + " (one row per sequence)");
        }
        for (int i = 0; i < positions.length; i++) {
            if (positions[i] < 0 || positions[i] >= contextLength()) {
                throw new IllegalArgumentException(name + ": key position " + positions[i] + " (sequence "
                        + i / keys + ", key " + i % keys + ") is outside the context [0, " + contextLength()
                        + "); shorten the input or the prompt");
            }
        }
    }

    /**
     * The position of every new row, (batch, T), from the key positions (null: start, start + 1, …); the
     * new rows are the last T keys of each sequence.
     */
    static int[] rowPositions(int[] positions, int batch, int start, int length) {
        int keys = start + length;
        int[] rows = new int[batch * length];                                              // (batch, T)
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                int key = start + t;
                rows[b * length + t] = positions == null ? key
                        : positions[positions.length == keys ? key : b * keys + key];
            }
        }
        return rows;
    }

    @Override
    public final void close() {
        weights.close();
    }

    @Override
    public String toString() {
        return architecture() + " '" + name + "': " + layers() + " layers, dim " + dim() + ", " + heads()
                + " heads, vocab " + vocabSize() + ", context " + contextLength();
    }
}
