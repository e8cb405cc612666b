package dev.promptgrad.safetensors;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Named tensors read from disk: one safetensors file ({@link SafetensorsFile}) or a sharded checkpoint
 * ({@link ShardedSafetensors}), with the same calls. Reading copies into Java arrays; F16 and BF16 are widened
 * to float32 exactly. Closing releases the open files; a closed source refuses reads. Not a tensor owner: it
 * allocates no backend memory.
 */
public interface TensorSource extends AutoCloseable {

    /** Opens {@code path} as a shard index if its name ends in ".index.json", else as one safetensors file. */
    static TensorSource open(Path path) {
        Path name = path.getFileName();
        if (name != null && name.toString().endsWith(".index.json")) return ShardedSafetensors.open(path);
        return SafetensorsFile.open(path);
    }

    /** The tensor names, in header (or weight_map) order. */
    List<String> names();

    boolean contains(String name);

    /**
     * Type, shape and location of a tensor.
     *
     * @throws SafetensorsException naming the file if there is no such tensor
     */
    TensorInfo info(String name);

    /**
     * The tensor's elements in row-major order as float32.
     *
     * @throws SafetensorsException if the tensor is missing, is not F32, F16 or BF16, or has more elements than
     *                              a Java array holds
     */
    float[] readFloats(String name);

    /** Reads the tensor's elements as float32 into {@code destination} starting at {@code offset}. */
    void readFloats(String name, float[] destination, int offset);

    /**
     * The tensor's elements as longs (signed or unsigned integers widened exactly, BOOL as 0 or 1).
     *
     * @throws SafetensorsException if the tensor is not an integer type, or a U64 value exceeds Long.MAX_VALUE
     */
    long[] readLongs(String name);

    /**
     * String metadata: a file's {@code __metadata__}; for a sharded checkpoint, the index's {@code metadata}
     * (see {@link ShardedSafetensors#metadata}). Empty when there is none. Unmodifiable, in file order.
     */
    Map<String, String> metadata();

    @Override
    void close();
}
