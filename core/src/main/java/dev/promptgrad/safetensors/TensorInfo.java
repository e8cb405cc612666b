package dev.promptgrad.safetensors;

import java.util.Arrays;

/**
 * What a safetensors header says about one tensor, already validated: its name, element type, shape and the
 * byte range {@code [begin, end)} of its data, relative to the start of the file's data region. It holds no
 * data; read that through the {@link TensorSource} it came from.
 */
public final class TensorInfo {
    private final String file;
    private final String name;
    private final SafetensorsDType dtype;
    private final long[] shape;
    private final long begin;
    private final long end;

    TensorInfo(String file, String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
        this.file = file;
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.begin = begin;
        this.end = end;
    }

    /** The file this tensor lives in (one shard, for a sharded checkpoint). */
    public String file() {
        return file;
    }

    public String name() {
        return name;
    }

    public SafetensorsDType dtype() {
        return dtype;
    }

    /** The shape; a copy. A scalar has rank 0 and one element. */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /**
     * The shape as ints, as promptgrad's tensors take it.
     *
     * @throws SafetensorsException if a dimension does not fit in an int
     */
    public int[] intShape() {
        int[] dims = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] > Integer.MAX_VALUE) {
                throw new SafetensorsException(file + ": tensor '" + name + "' dimension " + i + " is " + shape[i]
                        + ", more than a tensor dimension can hold (" + Integer.MAX_VALUE + ")");
            }
            dims[i] = (int) shape[i];
        }
        return dims;
    }

    /** The number of elements (validated not to overflow when the header was read). */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Start of the data, relative to the data region. */
    public long begin() {
        return begin;
    }

    /** One past the end of the data, relative to the data region. */
    public long end() {
        return end;
    }

    public long byteLength() {
        return end - begin;
    }

    /** "wte.weight F32 [10, 20]". */
    @Override
    public String toString() {
        return name + " " + dtype + " " + Arrays.toString(shape);
    }
}
