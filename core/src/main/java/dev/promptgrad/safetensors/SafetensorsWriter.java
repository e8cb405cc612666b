package dev.promptgrad.safetensors;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.JsonWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds a safetensors file from float32 arrays (stored as F32, F16 or BF16) and long arrays (stored as I64)
 * plus string {@code __metadata__}, and writes it atomically (see {@link #write}); {@link #header} documents
 * the layout. Values are copied when added. It does not stream: everything added is held until written.
 */
public final class SafetensorsWriter {

    private static final int CHUNK_BYTES = 1 << 16;

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, Entry> tensors = new LinkedHashMap<>();

    /** One tensor to write: exactly one of floats and longs is set. */
    private static final class Entry {
        final SafetensorsDType dtype;
        final long[] shape;
        final float[] floats;
        final long[] longs;

        Entry(SafetensorsDType dtype, long[] shape, float[] floats, long[] longs) {
            this.dtype = dtype;
            this.shape = shape;
            this.floats = floats;
            this.longs = longs;
        }

        long count() {
            return floats != null ? floats.length : longs.length;
        }

        long byteLength() {
            return count() * (dtype.bits / 8);
        }
    }

    /** Adds a {@code __metadata__} entry, such as ("format", "pt") which PyTorch-side readers expect. */
    public SafetensorsWriter metadata(String key, String value) {
        if (key == null || value == null) throw new IllegalArgumentException("metadata keys and values must not be null");
        if (metadata.containsKey(key)) throw new IllegalArgumentException("metadata key '" + key + "' was already set");
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor stored as F32. */
    public SafetensorsWriter add(String name, float[] values, int... shape) {
        return add(name, SafetensorsDType.F32, values, shape);
    }

    /** Adds a tensor stored as F32, F16 or BF16 (narrowed with round-to-nearest-even, see {@link HalfFloats}). */
    public SafetensorsWriter add(String name, SafetensorsDType dtype, float[] values, int... shape) {
        if (!dtype.readableAsFloat32()) {
            throw new IllegalArgumentException("tensor '" + name + "': float values can be stored as F32, F16 or BF16,"
                    + " not " + dtype);
        }
        tensors.put(checkName(name), new Entry(dtype, checkShape(name, values.length, shape), values.clone(), null));
        return this;
    }

    /** Adds a tensor stored as I64, such as token ids. */
    public SafetensorsWriter addLongs(String name, long[] values, int... shape) {
        tensors.put(checkName(name), new Entry(SafetensorsDType.I64, checkShape(name, values.length, shape), null,
                values.clone()));
        return this;
    }

    /**
     * The header as it will follow the 8-byte length: compact JSON with {@code __metadata__} first (left out
     * when no metadata was given) and then the tensors in the order they were added, each
     * {@code {"dtype", "shape", "data_offsets"}}, non-ASCII characters raw in UTF-8 as serde_json writes them,
     * padded with spaces to a multiple of 8 bytes as the reference writer pads it, so the data starts 8-aligned.
     * The reference writer orders tensors by decreasing alignment, then name; readers do not depend on the
     * order, and a file of one tensor comes out the same either way.
     */
    public byte[] header() {
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) header.put("__metadata__", metadata);
        long offset = 0;
        for (Map.Entry<String, Entry> named : tensors.entrySet()) {
            Entry entry = named.getValue();
            List<Long> shape = new ArrayList<>();
            for (long d : entry.shape) shape.add(d);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", entry.dtype.name());
            info.put("shape", shape);
            info.put("data_offsets", List.of(offset, offset + entry.byteLength()));
            header.put(named.getKey(), info);
            offset += entry.byteLength();
        }
        byte[] json = JsonWriter.compact().asciiOnly(false).write(header).getBytes(StandardCharsets.UTF_8);
        byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    /** The size of the file {@link #write} produces. */
    public long fileSize() {
        long size = 8 + header().length;
        for (Entry entry : tensors.values()) size += entry.byteLength();
        return size;
    }

    /** Writes the whole file (length, header, data) to {@code out}. */
    public void writeTo(WritableByteChannel out) throws IOException {
        byte[] header = header();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(header.length);
        drain(buffer, out);
        ByteBuffer headerBuffer = ByteBuffer.wrap(header);
        while (headerBuffer.hasRemaining()) out.write(headerBuffer);
        for (Entry entry : tensors.values()) {
            for (int i = 0, n = (int) entry.count(); i < n; i++) {
                if (buffer.remaining() < 8) drain(buffer, out);
                switch (entry.dtype) {
                    case F32: buffer.putFloat(entry.floats[i]); break;
                    case F16: buffer.putShort(HalfFloats.floatToF16(entry.floats[i])); break;
                    case BF16: buffer.putShort(HalfFloats.floatToBf16(entry.floats[i])); break;
                    case I64: buffer.putLong(entry.longs[i]); break;
                    default: throw new IllegalStateException("cannot write " + entry.dtype);
                }
            }
        }
        drain(buffer, out);
    }

    /**
     * Writes the file atomically: to a temporary file in the same folder, forced to disk, then renamed over
     * {@code target} (see {@link AtomicFile}).
     *
     * @throws SafetensorsException if writing fails; an existing target is then unchanged and no temporary
     *                              file is left
     */
    public void write(Path target) {
        try {
            AtomicFile.write(target, this::writeTo);
        } catch (IOException e) {
            throw new SafetensorsException(target + ": could not write the safetensors file (" + e
                    + "); any previous file there is unchanged", e);
        }
    }

    private static void drain(ByteBuffer buffer, WritableByteChannel out) throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) out.write(buffer);
        buffer.clear();
    }

    private String checkName(String name) {
        if (name == null) throw new IllegalArgumentException("tensor name must not be null");
        if (name.equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' cannot name a tensor");
        if (tensors.containsKey(name)) throw new IllegalArgumentException("tensor '" + name + "' was already added");
        return name;
    }

    private static long[] checkShape(String name, int valueCount, int[] shape) {
        long[] dims = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new IllegalArgumentException("tensor '" + name + "' shape " + Arrays.toString(shape)
                        + " has a negative dimension");
            }
            dims[i] = shape[i];
        }
        String needed;
        if (Arrays.stream(shape).anyMatch(d -> d == 0)) {
            needed = "0";
        } else {
            try {
                long product = 1;
                for (int d : shape) product = Math.multiplyExact(product, d);
                needed = Long.toString(product);
            } catch (ArithmeticException overflow) {
                needed = "more than " + Long.MAX_VALUE;
            }
        }
        if (!needed.equals(Integer.toString(valueCount))) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + valueCount + " values, but shape "
                    + Arrays.toString(shape) + " holds " + needed);
        }
        return dims;
    }
}
