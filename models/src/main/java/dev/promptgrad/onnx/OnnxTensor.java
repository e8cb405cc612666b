package dev.promptgrad.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One ONNX {@code TensorProto}: a graph initializer or a Constant node's value. It keeps its name, dims, data type
 * and where its data lies (a span of the file's bytes for {@code raw_data}, or the parsed {@code float_data} /
 * {@code int64_data}); the dims were checked against the data's size when it was read. Converts to Java arrays
 * on request; it owns no backend memory.
 */
public final class OnnxTensor {
    /** TensorProto.DataType values this reader converts. */
    public static final int FLOAT = 1, INT64 = 7;

    private final String name;
    private final long[] dims;
    private final int dataType;
    private final byte[] raw;      // the file's bytes, or null when the values came as float_data / int64_data
    private final int rawOffset;
    private final float[] floatData;
    private final long[] int64Data;
    private final long elements;

    OnnxTensor(String name, long[] dims, int dataType, byte[] raw, int rawOffset, float[] floatData, long[] int64Data,
               long elements) {
        this.name = name;
        this.dims = dims.clone();
        this.dataType = dataType;
        this.raw = raw;
        this.rawOffset = rawOffset;
        this.floatData = floatData;
        this.int64Data = int64Data;
        this.elements = elements;
    }

    public String name() {
        return name;
    }

    /** The dims; a copy. A scalar has none. */
    public long[] dims() {
        return dims.clone();
    }

    public int rank() {
        return dims.length;
    }

    /** TensorProto.DataType: {@link #FLOAT} (1), {@link #INT64} (7), … */
    public int dataType() {
        return dataType;
    }

    public long elements() {
        return elements;
    }

    /** The dims as ints (each was checked to fit when the tensor was read). */
    public int[] intDims() {
        int[] out = new int[dims.length];
        for (int i = 0; i < dims.length; i++) out[i] = (int) dims[i];
        return out;
    }

    /** The values of a FLOAT tensor, row-major. */
    public float[] floats() {
        if (dataType != FLOAT) {
            throw new OnnxFormatException("tensor '" + name + "' has data type " + dataType + ", not FLOAT (1)");
        }
        if (raw == null) return floatData.clone();
        float[] out = new float[(int) elements];
        ByteBuffer.wrap(raw, rawOffset, out.length * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    /** The values of an INT64 tensor, row-major. */
    public long[] longs() {
        if (dataType != INT64) {
            throw new OnnxFormatException("tensor '" + name + "' has data type " + dataType + ", not INT64 (7)");
        }
        if (raw == null) return int64Data.clone();
        long[] out = new long[(int) elements];
        ByteBuffer.wrap(raw, rawOffset, out.length * 8).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
        return out;
    }

    /** "onnx::MatMul_787 FLOAT [384, 384]". */
    @Override
    public String toString() {
        return name + " " + (dataType == FLOAT ? "FLOAT" : dataType == INT64 ? "INT64" : "type " + dataType) + " "
                + Arrays.toString(dims);
    }
}
