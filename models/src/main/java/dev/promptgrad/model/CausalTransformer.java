package dev.promptgrad.model;

import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
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
