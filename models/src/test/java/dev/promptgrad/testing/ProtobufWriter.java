package dev.promptgrad.testing;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Protobuf wire format, just enough to write test files byte by byte (ONNX graphs, SentencePiece models), malformed
 * ones included through {@link #raw}. Test code only; not a serializer of any schema.
 */
public final class ProtobufWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    public ProtobufWriter varint(long value) {
        while ((value & ~0x7FL) != 0) {
            out.write((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        out.write((int) value);
        return this;
    }

    public ProtobufWriter tag(int field, int wireType) {
        return varint((long) field << 3 | wireType);
    }

    public ProtobufWriter intField(int field, long value) {
        return tag(field, 0).varint(value);
    }

    public ProtobufWriter bytesField(int field, byte[] bytes) {
        tag(field, 2).varint(bytes.length);
        out.writeBytes(bytes);
        return this;
    }

    public ProtobufWriter string(int field, String s) {
        return bytesField(field, s.getBytes(StandardCharsets.UTF_8));
    }

    public ProtobufWriter message(int field, ProtobufWriter inner) {
        return bytesField(field, inner.bytes());
    }

    public ProtobufWriter fixed32(int field, float value) {
        tag(field, 5);
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array());
        return this;
    }

    /** Bytes as given, for what the other methods will not write. */
    public ProtobufWriter raw(int... bytes) {
        for (int b : bytes) out.write(b);
        return this;
    }

    public byte[] bytes() {
        return out.toByteArray();
    }
}
