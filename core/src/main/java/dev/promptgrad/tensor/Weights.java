package dev.promptgrad.tensor;

import dev.promptgrad.backend.Backend;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model's frozen tensors, by name, for as long as the model is loaded. Weights never receive
 * gradients. Names are the checkpoint's own (e.g. {@code "h.0.attn.c_attn.weight"}), so errors can name them.
 */
public final class Weights extends Owner {
    private final Map<String, Tensor> byName = new LinkedHashMap<>();

    public Weights(Backend backend, String modelName) {
        super(backend, "weights of '" + modelName + "'");
    }

    /** Allocates an F32 tensor under {@code name}; the name must be new. */
    public Tensor allocate(String name, int... shape) {
        return allocate(name, DType.F32, shape);
    }

    /** Allocates a tensor of {@code dtype} (F32, or BF16 where the backend supports it) under a new {@code name}. */
    public synchronized Tensor allocate(String name, DType dtype, int... shape) {
        if (byName.containsKey(name)) throw new IllegalArgumentException("weight '" + name + "' is already allocated");
        Tensor t = new Tensor(allocateBuffer(dtype, Tensor.sizeOf(shape)), 0, shape);
        byName.put(name, t);
        return t;
    }

    /** Allocates {@code name} as F32 and uploads {@code values} into it. */
    public Tensor put(String name, float[] values, int... shape) {
        return put(name, DType.F32, values, shape);
    }

    /** Allocates {@code name} as {@code dtype} and uploads {@code values} (rounded to bfloat16 for BF16). */
    public Tensor put(String name, DType dtype, float[] values, int... shape) {
        Tensor t = allocate(name, dtype, shape);
        backend.upload(values, t);
        return t;
    }

    /** The tensor called {@code name}; a clear error if there is none. */
    public synchronized Tensor get(String name) {
        checkOpen();
        Tensor t = byName.get(name);
        if (t == null) throw new IllegalArgumentException("no weight named '" + name + "' in " + label());
        return t;
    }

    public synchronized boolean contains(String name) {
        return byName.containsKey(name);
    }

    public synchronized Map<String, Tensor> all() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(byName));
    }
}
