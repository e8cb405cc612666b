package dev.promptgrad.safetensors;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * One safetensors file, opened read-only and validated whole (header and layout, see {@link #open}) before any
 * tensor is read. Tensor data is memory-mapped when read, at most 1 GiB at a time so files and tensors beyond
 * 2 GiB work, and copied into Java arrays; nothing stays mapped between reads (Java 17 has no public unmap, so
 * the garbage collector returns a window's address space). Safe to read from several threads.
 */
public final class SafetensorsFile implements TensorSource {

    /** The largest header accepted, as in the reference implementation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    /** The largest single mapping; a multiple of every element size. */
    static final long DEFAULT_WINDOW_BYTES = 1L << 30;

    private static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;
    private static final String METADATA_KEY = "__metadata__";

    private final String file;                     // the path as given, for messages
    private final FileChannel channel;
    private final long fileSize;
    private final long dataStart;                  // 8 + N: where offset 0 of the data region lies
    private final Map<String, TensorInfo> tensors; // header order
    private final Map<String, String> metadata;
    private final long windowBytes;
    private volatile boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, long windowBytes) throws IOException {
        this.file = path.toString();
        this.channel = channel;
        this.windowBytes = windowBytes;
        this.fileSize = channel.size();
        if (fileSize < 8) {
            throw fail("file is " + fileSize + " bytes, too short for the 8-byte header length;"
                    + " it is truncated or not a safetensors file");
        }
        ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(length, 0);
        long headerBytes = length.getLong(0);
        if (headerBytes < 0 || headerBytes > MAX_HEADER_BYTES) {
            throw fail("header length " + Long.toUnsignedString(headerBytes) + " is more than the limit of "
                    + MAX_HEADER_BYTES + " bytes; the file is corrupt or not a safetensors file");
        }
        if (headerBytes > fileSize - 8) {
            throw fail("header length " + headerBytes + " runs past the end of the " + fileSize
                    + "-byte file; it is truncated or not a safetensors file");
        }
        ByteBuffer header = ByteBuffer.allocate((int) headerBytes);
        readFully(header, 8);
        this.dataStart = 8 + headerBytes;
        long dataSize = fileSize - dataStart;

        Object parsed;
        try {
            // a valid header nests 3 deep ({name: {"shape": [...]}}); 8 leaves room and stops depth bombs early
            parsed = Json.parse(header.array(), file + " header", new JsonLimits(8, (int) headerBytes, headerBytes));
        } catch (JsonException e) {
            String at = e.line() > 0 ? " at " + e.line() + ":" + e.column() : "";
            throw new SafetensorsException(file + ": header is not valid JSON" + at + ": " + e.detail(), e);
        }
        if (!(parsed instanceof Map)) throw fail("header is " + Json.describe(parsed) + ", not a JSON object");
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        Map<String, String> meta = Map.of();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) parsed).entrySet()) {
            String name = (String) entry.getKey();
            if (name.equals(METADATA_KEY)) {
                meta = parseMetadata(entry.getValue());
            } else {
                infos.put(name, parseEntry(name, entry.getValue(), dataSize));
            }
        }
        checkTiling(infos, dataSize);
        this.tensors = Collections.unmodifiableMap(infos);
        this.metadata = meta;
    }

    /**
     * Opens and validates a safetensors file: an 8-byte little-endian header length N, N bytes of JSON header
     * ({@code {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}}), then
     * the data region, to which the offsets are relative. The rules are the reference implementation's
     * (huggingface/safetensors, {@code Metadata::validate}), all checked before anything beyond the header is
     * read or allocated:
     * <ul>
     * <li>N ≤ 100,000,000 and N ≤ file length − 8; the header is strict JSON (see {@link Json}), an object,
     *     with no duplicate keys; {@code __metadata__}, if present, maps strings to strings;</li>
     * <li>each tensor has a known dtype, a shape of non-negative integers whose element and byte counts fit in
     *     64 bits, and {@code data_offsets} of two non-negative integers with begin ≤ end, end − begin equal to
     *     numel × dtype size, and end within the data region (other keys in a tensor entry are ignored, as the
     *     reference ignores them);</li>
     * <li>sorted by offset, the tensors tile the data region exactly: none overlap, no byte between them belongs
     *     to no tensor, and the last one ends where the file ends (the reference's {@code InvalidOffset} and
     *     {@code MetadataIncompleteBuffer}: the spec requires the buffer to be entirely indexed, without holes).</li>
     * </ul>
     *
     * @throws SafetensorsException naming the file and the first problem found
     */
    public static SafetensorsFile open(Path path) {
        return open(path, DEFAULT_WINDOW_BYTES);
    }

    /** Opens with a smaller mapping window, so tests can cross window boundaries with small files. */
    static SafetensorsFile open(Path path, long windowBytes) {
        if (windowBytes <= 0 || windowBytes % 8 != 0) {
            throw new IllegalArgumentException("window must be a positive multiple of 8 bytes, got " + windowBytes);
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new SafetensorsException(path + ": no such file", e);
        } catch (IOException e) {
            throw new SafetensorsException(path + ": cannot open: " + e, e);
        }
        try {
            return new SafetensorsFile(path, channel, windowBytes);
        } catch (IOException | RuntimeException e) {
            try {
                channel.close();
            } catch (IOException closing) {
                e.addSuppressed(closing);
            }
            if (e instanceof IOException) throw new SafetensorsException(path + ": cannot read the header: " + e, e);
            throw (RuntimeException) e;
        }
    }

    /** The path as given to {@link #open}. */
    public String file() {
        return file;
    }

    @Override
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            String some = tensors.keySet().stream().limit(5).collect(Collectors.joining(", "));
            throw fail("no tensor named '" + name + "'; it has " + tensors.size() + " tensors"
                    + (tensors.isEmpty() ? "" : ": " + some + (tensors.size() > 5 ? ", ..." : "")));
        }
        return info;
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public float[] readFloats(String name) {
        TensorInfo info = floatTensor(name);
        float[] values = new float[arrayLength(info)];
        copyFloats(info, values, 0);
        return values;
    }

    @Override
    public void readFloats(String name, float[] destination, int offset) {
        TensorInfo info = floatTensor(name);
        long count = info.numel();
        if (offset < 0 || offset > destination.length || count > destination.length - offset) {
            throw new IllegalArgumentException(file + ": tensor '" + name + "' has " + count + " elements, which do not fit"
                    + " in an array of " + destination.length + " at offset " + offset);
        }
        copyFloats(info, destination, offset);
    }

    @Override
    public long[] readLongs(String name) {
        TensorInfo info = info(name);
        if (!info.dtype().readableAsLong()) {
            throw fail("tensor '" + name + "' is " + info.dtype() + "; only integer and BOOL tensors can be read as longs");
        }
        long[] values = new long[arrayLength(info)];
        int bytesPerElement = info.dtype().bits / 8;
        int at = 0;
        for (long done = 0; done < info.byteLength(); ) {
            long length = Math.min(info.byteLength() - done, windowBytes);
            ByteBuffer window = map(info, done, length);
            for (int i = 0, n = (int) (length / bytesPerElement); i < n; i++) {
                values[at++] = element(info, window, i);
            }
            done += length;
        }
        return values;
    }

    private long element(TensorInfo info, ByteBuffer window, int i) {
        switch (info.dtype()) {
            case BOOL:
                return window.get(i) != 0 ? 1 : 0;
            case U8:
                return window.get(i) & 0xFFL;
            case I8:
                return window.get(i);
            case I16:
                return window.getShort(2 * i);
            case U16:
                return window.getShort(2 * i) & 0xFFFFL;
            case I32:
                return window.getInt(4 * i);
            case U32:
                return window.getInt(4 * i) & 0xFFFFFFFFL;
            case I64:
                return window.getLong(8 * i);
            case U64: {
                long v = window.getLong(8 * i);
                if (v < 0) {
                    throw fail("tensor '" + info.name() + "' holds the U64 value " + Long.toUnsignedString(v)
                            + ", which is more than a long holds");
                }
                return v;
            }
            default:
                throw new IllegalStateException(info.dtype() + " is not an integer type");
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            throw new SafetensorsException(file + ": cannot close: " + e, e);
        }
    }

    @Override
    public String toString() {
        return file + " (" + tensors.size() + " tensors)";
    }

    private TensorInfo floatTensor(String name) {
        TensorInfo info = info(name);
        if (!info.dtype().readableAsFloat32()) {
            throw fail("tensor '" + name + "' is " + info.dtype() + "; only F32, F16 and BF16 tensors can be read as float32");
        }
        return info;
    }

    private int arrayLength(TensorInfo info) {
        long count = info.numel();
        if (count > MAX_ARRAY_LENGTH) {
            throw fail("tensor '" + info.name() + "' has " + count + " elements, more than a Java array holds ("
                    + MAX_ARRAY_LENGTH + ")");
        }
        return (int) count;
    }

    private void copyFloats(TensorInfo info, float[] destination, int offset) {
        int bytesPerElement = info.dtype().bits / 8;
        int at = offset;
        for (long done = 0; done < info.byteLength(); ) {
            long length = Math.min(info.byteLength() - done, windowBytes);
            ByteBuffer window = map(info, done, length);
            int count = (int) (length / bytesPerElement);
            if (info.dtype() == SafetensorsDType.F32) {
                FloatBuffer floats = window.asFloatBuffer();
                floats.get(destination, at, count);
            } else {
                ShortBuffer halves = window.asShortBuffer();
                boolean f16 = info.dtype() == SafetensorsDType.F16;
                for (int i = 0; i < count; i++) {
                    short bits = halves.get(i);
                    destination[at + i] = f16 ? HalfFloats.f16ToFloat(bits) : HalfFloats.bf16ToFloat(bits);
                }
            }
            at += count;
            done += length;
        }
    }

    /** Maps {@code length} bytes of the tensor's data starting {@code skip} bytes into it, little-endian. */
    private ByteBuffer map(TensorInfo info, long skip, long length) {
        if (closed) throw new IllegalStateException(file + ": the file is closed");
        try {
            long size = channel.size();
            if (size != fileSize) {
                throw fail("the file changed size since it was opened (" + fileSize + " bytes, now " + size
                        + "); open it again");
            }
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin() + skip, length)
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (ClosedChannelException e) {
            throw new IllegalStateException(file + ": the file is closed", e);
        } catch (IOException e) {
            throw new SafetensorsException(file + ": cannot map the data of tensor '" + info.name() + "': " + e, e);
        }
    }

    private void readFully(ByteBuffer buffer, long position) throws IOException {
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, position + buffer.position());
            if (n < 0) throw fail("the file ended while reading its header; it is truncated");
        }
    }

    private Map<String, String> parseMetadata(Object value) {
        if (!(value instanceof Map)) {
            throw fail(METADATA_KEY + " must be an object of string values, but is " + Json.describe(value));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
            if (!(entry.getValue() instanceof String)) {
                throw fail(METADATA_KEY + " value for '" + entry.getKey() + "' must be a string, but is "
                        + Json.describe(entry.getValue()));
            }
            meta.put((String) entry.getKey(), (String) entry.getValue());
        }
        return Collections.unmodifiableMap(meta);
    }

    private TensorInfo parseEntry(String name, Object value, long dataSize) {
        String tensor = "tensor '" + name + "'";
        if (!(value instanceof Map)) {
            throw fail(tensor + " must be an object with dtype, shape and data_offsets, but is " + Json.describe(value));
        }
        Map<?, ?> entry = (Map<?, ?>) value;
        for (String key : List.of("dtype", "shape", "data_offsets")) {
            if (!entry.containsKey(key)) throw fail(tensor + " has no " + key);
        }

        Object dtypeValue = entry.get("dtype");
        SafetensorsDType dtype = dtypeValue instanceof String ? SafetensorsDType.byName((String) dtypeValue) : null;
        if (dtype == null) {
            throw fail(tensor + " has unknown dtype " + jsonText(dtypeValue) + "; known: " + SafetensorsDType.allNames());
        }

        Object shapeValue = entry.get("shape");
        if (!(shapeValue instanceof List)) {
            throw fail(tensor + " shape must be an array of non-negative integers, but is " + Json.describe(shapeValue));
        }
        List<?> shapeList = (List<?>) shapeValue;
        long[] shape = new long[shapeList.size()];
        for (int i = 0; i < shape.length; i++) {
            Object dim = shapeList.get(i);
            if (!(dim instanceof Long) || (Long) dim < 0) {
                throw fail(tensor + " shape " + jsonText(shapeList) + ": dimension " + i + " is " + jsonText(dim)
                        + ", not a non-negative integer");
            }
            shape[i] = (Long) dim;
        }
        long byteSize;
        try {
            long count = 1;
            for (long d : shape) count = Math.multiplyExact(count, d);
            long bits = Math.multiplyExact(count, dtype.bits);
            if (bits % 8 != 0) {
                throw fail(tensor + " shape " + Arrays.toString(shape) + " × " + dtype + " is not a whole number of bytes");
            }
            byteSize = bits / 8;
        } catch (ArithmeticException overflow) {
            throw fail(tensor + " shape " + Arrays.toString(shape) + " × " + dtype + " has more elements or bytes than"
                    + " fit in 64 bits");
        }

        Object offsetsValue = entry.get("data_offsets");
        List<?> offsets = offsetsValue instanceof List ? (List<?>) offsetsValue : List.of();
        if (offsets.size() != 2 || !isNonNegativeLong(offsets.get(0)) || !isNonNegativeLong(offsets.get(1))) {
            throw fail(tensor + " data_offsets must be [begin, end] with non-negative integers, but is "
                    + jsonText(offsetsValue));
        }
        long begin = (Long) offsets.get(0);
        long end = (Long) offsets.get(1);
        String range = "data_offsets [" + begin + ", " + end + "]";
        if (begin > end) throw fail(tensor + " " + range + " have begin after end");
        if (end - begin != byteSize) {
            throw fail(tensor + " " + range + " do not match shape " + Arrays.toString(shape) + " × " + dtype + " = "
                    + byteSize + " bytes");
        }
        if (end > dataSize) {
            throw fail(tensor + " " + range + " run past the end of the " + dataSize + "-byte data region;"
                    + " the file is truncated");
        }
        return new TensorInfo(file, name, dtype, shape, begin, end);
    }

    private void checkTiling(Map<String, TensorInfo> infos, long dataSize) {
        List<TensorInfo> byOffset = new ArrayList<>(infos.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo info : byOffset) {
            if (info.begin() < covered) {
                throw fail("tensors '" + previous.name() + "' " + offsets(previous) + " and '" + info.name() + "' "
                        + offsets(info) + " overlap");
            }
            if (info.begin() > covered) {
                throw fail("bytes [" + covered + ", " + info.begin() + ") of the data region belong to no tensor;"
                        + " safetensors requires the data region to be fully indexed, without holes");
            }
            covered = info.end();
            previous = info;
        }
        if (covered != dataSize) {
            throw fail("the data region has " + dataSize + " bytes but the tensors end at byte " + covered + "; the "
                    + (dataSize - covered) + " bytes after it belong to no tensor");
        }
    }

    private static String offsets(TensorInfo info) {
        return "[" + info.begin() + ", " + info.end() + "]";
    }

    private static boolean isNonNegativeLong(Object value) {
        return value instanceof Long && (Long) value >= 0;
    }

    /** A parsed value as JSON text, arrays with ", " between elements: [10, -1], "F128", 2.5. */
    private static String jsonText(Object value) {
        if (value instanceof List) {
            return ((List<?>) value).stream().map(SafetensorsFile::jsonText).collect(Collectors.joining(", ", "[", "]"));
        }
        return JsonWriter.compact().write(value);
    }

    private SafetensorsException fail(String problem) {
        return new SafetensorsException(file + ": " + problem);
    }
}
