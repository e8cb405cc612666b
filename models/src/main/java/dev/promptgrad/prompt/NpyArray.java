package dev.promptgrad.prompt;

import dev.promptgrad.safetensors.HalfFloats;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A NumPy {@code .npy} array of floats, read and written strictly: the magic, format versions 1, 2 and 3, a header
 * dict of exactly {@code descr}, {@code fortran_order} (False only) and {@code shape}, element types
 * {@code <f4}, {@code <f2}, {@code <f8} and {@code |V2} (KoboldAI's bfloat16, raw 2-byte words), and a data
 * size checked against the file's length before anything is allocated. Writes version 1.0 little-endian F32
 * with the header padded to 64 bytes, as {@code numpy.save} does. Not a general NumPy reader (no pickles, no
 * structured or big-endian types).
 *
 * @param shape  the array's dimensions
 * @param values its elements in C order, widened to float
 */
public record NpyArray(int[] shape, float[] values) {

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** The largest header numpy itself accepts by default. */
    private static final int MAX_HEADER = 10_000;

    public NpyArray {
        long size = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            size *= d;
        }
        if (size != values.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + size + " elements, not "
                    + values.length);
        }
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /**
     * Reads and parses a {@code .npy} file of at most {@code maxBytes} bytes; a larger one is refused before it is
     * read.
     *
     * @throws AdapterFormatException naming the file and what is wrong
     */
    public static NpyArray read(Path file, long maxBytes) {
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > maxBytes) {
                throw new AdapterFormatException(file + " is " + size + " bytes, more than the " + maxBytes
                        + " a soft prompt may have");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new AdapterFormatException(file + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        return parse(bytes, file.toString());
    }

    /**
     * Parses the bytes of a {@code .npy} file.
     *
     * @param source names the file in messages (e.g. "prompt.zip!tensor.npy")
     * @throws AdapterFormatException naming the source and what is wrong
     */
    public static NpyArray parse(byte[] bytes, String source) {
        if (bytes.length < 10 || !Arrays.equals(Arrays.copyOf(bytes, 6), MAGIC)) {
            throw new AdapterFormatException(source + " is not a .npy file (it does not start with \\x93NUMPY)");
        }
        int major = bytes[6] & 0xff;
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength;
        int headerStart;
        if (major == 1) {
            headerLength = in.getShort(8) & 0xffff;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (bytes.length < 12) throw new AdapterFormatException(source + " ends inside its .npy preamble");
            headerLength = in.getInt(8) & 0xffffffffL;
            headerStart = 12;
        } else {
            throw new AdapterFormatException(source + " is .npy format version " + major + "." + (bytes[7] & 0xff)
                    + "; versions 1, 2 and 3 are read");
        }
        if (headerLength > MAX_HEADER || headerStart + headerLength > bytes.length) {
            throw new AdapterFormatException(source + ": the .npy header claims " + headerLength + " bytes, but the file"
                    + " has " + (bytes.length - headerStart) + " after the preamble (at most " + MAX_HEADER + " are read)");
        }
        String header = new String(bytes, headerStart, (int) headerLength,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Map<String, Object> fields = new HeaderParser(header, source).dict();
        if (!fields.keySet().equals(Set.of("descr", "fortran_order", "shape"))) {
            throw new AdapterFormatException(source + ": the .npy header must have exactly the keys descr, fortran_order"
                    + " and shape, not " + fields.keySet());
        }
        if (!(fields.get("descr") instanceof String descr)) {
            throw new AdapterFormatException(source + ": the .npy descr must be a string");
        }
        if (!Boolean.FALSE.equals(fields.get("fortran_order"))) {
            throw new AdapterFormatException(source + ": fortran_order is " + fields.get("fortran_order")
                    + "; only C-ordered arrays (fortran_order False) are read");
        }
        if (!(fields.get("shape") instanceof int[] shape)) {
            throw new AdapterFormatException(source + ": the .npy shape must be a tuple of integers");
        }
        int itemSize = switch (descr) {
            case "<f4" -> 4;
            case "<f2", "|V2", "<V2" -> 2;
            case "<f8" -> 8;
            default -> throw new AdapterFormatException(source + ": element type '" + descr + "' is not read; a prompt"
                    + " must be '<f4' (float32), '<f2' (float16), '<f8' (float64) or '|V2' (bfloat16)");
        };
        long elements = 1;
        for (int d : shape) {
            elements *= d;
            if (elements > Integer.MAX_VALUE) {
                throw new AdapterFormatException(source + ": shape " + Arrays.toString(shape) + " has more elements than"
                        + " one array can hold");
            }
        }
        long dataStart = headerStart + headerLength;
        long expected = elements * itemSize;
        if (bytes.length - dataStart != expected) {
            throw new AdapterFormatException(source + ": shape " + Arrays.toString(shape) + " of '" + descr + "' needs "
                    + expected + " data bytes, but the file has " + (bytes.length - dataStart));
        }
        float[] values = new float[Math.toIntExact(elements)];
        in.position((int) dataStart);
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (itemSize) {
                case 4 -> in.getFloat();
                case 8 -> (float) in.getDouble();
                default -> descr.equals("<f2") ? HalfFloats.f16ToFloat(in.getShort())
                        : HalfFloats.bf16ToFloat(in.getShort());
            };
        }
        return new NpyArray(shape, values);
    }

    /** The bytes of a version 1.0 {@code .npy} file holding this array as little-endian float32. */
    public byte[] toBytes() {
        StringBuilder dims = new StringBuilder();
        for (int d : shape) dims.append(d).append(", ");
        String tuple = shape.length == 1 ? "(" + shape[0] + ",)"
                : "(" + (shape.length == 0 ? "" : dims.substring(0, dims.length() - 2)) + ")";
        // numpy: "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", padded with spaces and "\n"
        StringBuilder header = new StringBuilder("{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple + ", }");
        int total = 10 + header.length() + 1;
        header.append(" ".repeat((64 - total % 64) % 64)).append('\n');
        ByteBuffer out = ByteBuffer.allocate(10 + header.length() + 4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
        out.put(header.toString().getBytes(StandardCharsets.ISO_8859_1));
        for (float v : values) out.putFloat(v);
        return out.array();
    }

    /** The header dict: a Python literal of string keys and string, bool or int-tuple values, nothing else. */
    private static final class HeaderParser {
        private final String text;
        private final String source;
        private int at;

        HeaderParser(String text, String source) {
            this.text = text;
            this.source = source;
        }

        Map<String, Object> dict() {
            Map<String, Object> fields = new LinkedHashMap<>();
            expect('{');
            while (true) {
                skipSpaces();
                if (peek() == '}') {
                    at++;
                    break;
                }
                String key = string();
                expect(':');
                skipSpaces();
                Object value = switch (peek()) {
                    case '\'', '"' -> string();
                    case '(' -> tuple();
                    default -> bool();
                };
                if (fields.put(key, value) != null) throw error("key '" + key + "' appears twice");
                skipSpaces();
                if (peek() == ',') {
                    at++;
                } else if (peek() != '}') {
                    throw error("expected ',' or '}'");
                }
            }
            skipSpaces();
            if (at != text.length()) throw error("unexpected text after the dict");
            return fields;
        }

        private String string() {
            skipSpaces();
            char quote = peek();
            if (quote != '\'' && quote != '"') throw error("expected a quoted string");
            int end = text.indexOf(quote, at + 1);
            if (end < 0) throw error("unterminated string");
            String value = text.substring(at + 1, end);
            at = end + 1;
            return value;
        }

        private int[] tuple() {
            expect('(');
            List<Integer> dims = new ArrayList<>();
            while (true) {
                skipSpaces();
                if (peek() == ')') {
                    at++;
                    break;
                }
                int start = at;
                while (at < text.length() && Character.isDigit(text.charAt(at))) at++;
                if (start == at || at - start > 9) throw error("a dimension must be a non-negative integer below 10^9");
                dims.add(Integer.parseInt(text.substring(start, at)));
                skipSpaces();
                if (peek() == ',') {
                    at++;
                } else if (peek() != ')') {
                    throw error("expected ',' or ')' in the shape");
                }
            }
            return dims.stream().mapToInt(Integer::intValue).toArray();
        }

        private Boolean bool() {
            if (text.startsWith("True", at)) {
                at += 4;
                return true;
            }
            if (text.startsWith("False", at)) {
                at += 5;
                return false;
            }
            throw error("expected a string, a tuple, True or False");
        }

        private void expect(char c) {
            skipSpaces();
            if (peek() != c) throw error("expected '" + c + "'");
            at++;
        }

        private char peek() {
            if (at >= text.length()) throw error("the header ends early");
            return text.charAt(at);
        }

        private void skipSpaces() {
            while (at < text.length() && Character.isWhitespace(text.charAt(at))) at++;
        }

        private AdapterFormatException error(String detail) {
            return new AdapterFormatException(source + ": malformed .npy header at character " + at + " (" + detail
                    + "): " + text.strip());
        }
    }
}
