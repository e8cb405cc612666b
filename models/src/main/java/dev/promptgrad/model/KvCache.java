package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Owner;
import dev.promptgrad.tensor.Tensor;

/**
 * The keys and values every attention layer has seen so far, so that a decoding step runs only its new
 * tokens (inference only: what goes in must not need a gradient). Keys are stored before RoPE, so the
 * step rotates them with the same op as a full pass. It owns its storage and frees it on close.
 * Make one with {@link LanguageModel#newKvCache}; it is not a tape and records nothing.
 */
public final class KvCache extends Owner {
    private final int batch;
    private final int capacity;
    private final int width;        // kvHeads · headSize
    private final Tensor[] keys;    // layers × (batch, capacity, width)
    private final Tensor[] values;  // layers × (batch, capacity, width)
    private int length;             // positions filled (and committed by advance)

    public KvCache(Backend backend, int layers, int batch, int capacity, int width, String name) {
        super(backend, "kv cache '" + name + "'");
        if (layers < 1 || batch < 1 || capacity < 1 || width < 1) {
            throw new IllegalArgumentException("kv cache '" + name + "' needs positive sizes, got layers " + layers
                    + ", batch " + batch + ", capacity " + capacity + ", width " + width);
        }
        this.batch = batch;
        this.capacity = capacity;
        this.width = width;
        this.keys = new Tensor[layers];
        this.values = new Tensor[layers];
        long elements = (long) batch * capacity * width;
        for (int l = 0; l < layers; l++) {
            keys[l] = new Tensor(allocateBuffer(DType.F32, elements), 0, batch, capacity, width);
            values[l] = new Tensor(allocateBuffer(DType.F32, elements), 0, batch, capacity, width);
        }
    }

    public int layers() {
        return keys.length;
    }

    public int batch() {
        return batch;
    }

    /** The most positions it can hold. */
    public int capacity() {
        return capacity;
    }

    /** Positions stored so far: the position of the next token. */
    public int length() {
        return length;
    }

    /**
     * Stores {@code newKeys} [batch, T, width] of {@code layer} at positions {@link #length()} … length + T − 1
     * and returns every key of that layer so far, [batch, length + T, width], as a constant.
     */
    public Variable appendKeys(Tape tape, int layer, Variable newKeys) {
        return append(tape, keys, layer, newKeys, "keys");
    }

    /** As {@link #appendKeys}, for the values. */
    public Variable appendValues(Tape tape, int layer, Variable newValues) {
        return append(tape, values, layer, newValues, "values");
    }

    /** Commits {@code steps} positions written by this pass's appends; the model calls it after its last layer. */
    public void advance(int steps) {
        checkOpen();
        if (steps < 0 || length + steps > capacity) {
            throw new IllegalArgumentException(label() + ": cannot advance " + steps + " positions from " + length
                    + " with capacity " + capacity);
        }
        length += steps;
    }

    /** Forgets every position from {@code newLength} on (0 empties it), e.g. to reuse a cached prefix. */
    public void truncate(int newLength) {
        checkOpen();
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException(label() + ": cannot truncate to " + newLength + " of " + length
                    + " positions");
        }
        length = newLength;
    }

    private Variable append(Tape tape, Tensor[] store, int layer, Variable fresh, String what) {
        checkOpen();
        if (fresh.requiresGrad()) {
            throw new IllegalArgumentException(label() + " stores only constants, but the new " + what + " " + fresh
                    + " need a gradient; decode with the prompt as a constant, or train without a cache");
        }
        Tensor x = fresh.value();
        if (x.rank() != 3 || x.dim(0) != batch || x.dim(2) != width) {
            throw new IllegalArgumentException(label() + ": new " + what + " " + fresh + " must be [" + batch
                    + ", T, " + width + "]");
        }
        int steps = x.dim(1);
        int total = length + steps;
        if (total > capacity) {
            throw new IllegalArgumentException(label() + " holds " + capacity + " positions; " + length
                    + " are stored and " + steps + " more do not fit");
        }
        Tensor cache = store[layer];                                                   // (batch, capacity, width)
        for (int b = 0; b < batch; b++) {
            tape.backend().copy(x.select(b), cache.select(b).slice(length, total));
        }
        Tensor all;                                                                    // (batch, total, width)
        if (batch == 1) {
            all = cache.select(0).slice(0, total).view(1, total, width);
        } else {
            all = tape.allocate(batch, total, width);
            for (int b = 0; b < batch; b++) tape.backend().copy(cache.select(b).slice(0, total), all.select(b));
        }
        return tape.constant(all, "cached " + what + " of layer " + layer);
    }

    @Override
    public String toString() {
        return label() + ": " + length + " of " + capacity + " positions, batch " + batch + ", width " + width
                + ", " + keys.length + " layers";
    }
}
