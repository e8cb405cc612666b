package dev.promptgrad.protobuf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * A cursor over protobuf wire format in a byte array, bounded to one message: tags, varints (at most 10 bytes,
 * no bits past 64), fixed 32/64-bit values and length-delimited fields that must fit in what remains of the
 * message. Every error names the source and the absolute byte offset, and is the exception type the caller
 * chose (an ONNX reader's, a tokenizer reader's). It knows nothing of any message's schema; the format readers
 * do. Not a general protobuf library: groups (wire types 3 and 4) are refused.
 */
public final class ProtobufReader {
    public static final int VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5;

    private final byte[] bytes;
    private final String source;
    private int position;
    private final int limit;          // one past the last byte of this message
    private final boolean nested;     // inside a length-delimited field (for messages: "message", not "input")
    private final Function<String, ? extends RuntimeException> errors;  // full message → the caller's exception

    /**
     * A reader over all of {@code bytes}; {@code source} names them in errors, and {@code errors} turns an error
     * message ({@code "<source>: byte <offset>: <problem>"}) into the exception to throw.
     */
    public ProtobufReader(byte[] bytes, String source, Function<String, ? extends RuntimeException> errors) {
        this(bytes, source, 0, bytes.length, false, errors);
    }

    private ProtobufReader(byte[] bytes, String source, int position, int limit, boolean nested,
                           Function<String, ? extends RuntimeException> errors) {
        this.bytes = bytes;
        this.source = source;
        this.position = position;
        this.limit = limit;
        this.nested = nested;
        this.errors = errors;
    }

    public boolean hasMore() {
        return position < limit;
    }

    public int position() {
        return position;
    }

    /** The next field's tag: field number in the high bits, wire type in the low three. */
    public long readTag() {
        int at = position;
        long tag = readVarint();
        if ((tag >>> 3) == 0 || (tag >>> 3) > 0x1FFFFFFF) {
            throw error(at, "field number " + (tag >>> 3) + " is outside 1..2^29-1");
        }
        int wireType = (int) (tag & 7);
        if (wireType == 3 || wireType == 4) {
            throw error(at, "protobuf groups (wire type " + wireType + ") are not supported");
        }
        if (wireType > 5) throw error(at, "wire type " + wireType + " does not exist");
        return tag;
    }

    public static int fieldNumber(long tag) {
        return (int) (tag >>> 3);
    }

    public static int wireType(long tag) {
        return (int) (tag & 7);
    }

    /** A base-128 varint of at most 64 bits. */
    public long readVarint() {
        int start = position;
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (position >= limit) {
                throw error(start, "truncated varint: the " + (nested ? "message" : "input")
                        + " ends after " + (position - start) + " of its bytes");
            }
            int b = bytes[position++] & 0xFF;
            if (shift == 63 && (b & 0x7E) != 0) throw error(start, "varint overflows 64 bits");
            value |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw error(start, "varint is longer than 10 bytes");
    }

    /** A varint that must fit an int32 (a count, an enum, an id; a negative int32 is sign-extended to 10 bytes). */
    public int readInt32(String what) {
        int at = position;
        long value = readVarint();
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw error(at, what + " " + value + " does not fit in 32 bits");
        }
        return (int) value;
    }

    public int readFixed32() {
        requireBytes(4, "fixed32 value");
        int value = ByteBuffer.wrap(bytes, position, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        position += 4;
        return value;
    }

    public long readFixed64() {
        requireBytes(8, "fixed64 value");
        long value = ByteBuffer.wrap(bytes, position, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        position += 8;
        return value;
    }

    /** The length prefix of a length-delimited field, checked against what remains of this message. */
    public int readLength() {
        int at = position;
        long length = readVarint();
        if (length < 0 || length > limit - position) {
            throw error(at, "length-delimited field declares " + Long.toUnsignedString(length) + " bytes but only "
                    + (limit - position) + " remain in the " + (nested ? "enclosing message" : "input"));
        }
        return (int) length;
    }

    /** A sub-reader over the next length-delimited field; this reader moves past it. */
    public ProtobufReader readMessage() {
        int length = readLength();
        ProtobufReader inner = new ProtobufReader(bytes, source, position, position + length, true, errors);
        position += length;
        return inner;
    }

    /** The bytes of the next length-delimited field as {offset, length} into {@link #bytes()}, without copying. */
    public int[] readSpan() {
        int length = readLength();
        int[] span = {position, length};
        position += length;
        return span;
    }

    public String readString() {
        int at = position;
        int length = readLength();
        try {
            String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, position, length)).toString();
            position += length;
            return s;
        } catch (CharacterCodingException e) {
            throw error(at, "string field is not valid UTF-8");
        }
    }

    /** Skips a field of the given wire type. */
    public void skip(int wireType) {
        switch (wireType) {
            case VARINT -> readVarint();
            case FIXED64 -> {
                requireBytes(8, "fixed64 value");
                position += 8;
            }
            case LENGTH_DELIMITED -> {
                int length = readLength();   // first: `position += readLength()` would add to the old position
                position += length;
            }
            case FIXED32 -> {
                requireBytes(4, "fixed32 value");
                position += 4;
            }
            default -> throw error(position, "cannot skip wire type " + wireType);
        }
    }

    public byte[] bytes() {
        return bytes;
    }

    public String source() {
        return source;
    }

    private void requireBytes(int n, String what) {
        if (limit - position < n) {
            throw error(position, "truncated " + what + ": needs " + n + " bytes, " + (limit - position) + " remain");
        }
    }

    /** The caller's exception for {@code problem} at absolute byte {@code offset}, to throw. */
    public RuntimeException error(int offset, String problem) {
        return errors.apply(source + ": byte " + offset + ": " + problem);
    }
}
