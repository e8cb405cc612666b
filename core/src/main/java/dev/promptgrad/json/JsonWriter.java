package dev.promptgrad.json;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Writes plain Java values as JSON text the way Python's {@code json.dumps} does, so files other tools read
 * (PEFT's adapter_config.json is {@code json.dumps(sort_keys=True, indent=2)}) come out byte for byte the same:
 * compact or two-space pretty layout, keys optionally sorted, ensure_ascii escaping or raw UTF-8, doubles as
 * Python's repr ({@code 1e-05}, not {@code 1.0E-5}). It refuses NaN, infinities and types with no JSON form.
 */
public final class JsonWriter {

    private static final int MAX_DEPTH = JsonLimits.DEFAULT_MAX_DEPTH;
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final int indent;
    private final boolean sortKeys;
    private final boolean asciiOnly;

    private JsonWriter(int indent, boolean sortKeys, boolean asciiOnly) {
        this.indent = indent;
        this.sortKeys = sortKeys;
        this.asciiOnly = asciiOnly;
    }

    /** No whitespace at all, {@code {"a":[1,2]}}: Python's {@code separators=(",", ":")}, also serde_json's output. */
    public static JsonWriter compact() {
        return new JsonWriter(0, false, true);
    }

    /**
     * Python's {@code indent=2} layout: one element per line indented by two spaces, {@code ","} at line ends,
     * {@code ": "} after keys, {@code []} and {@code {}} for empty containers, no trailing newline.
     */
    public static JsonWriter pretty() {
        return new JsonWriter(2, false, true);
    }

    /** The same writer with object keys sorted by code point (as Python's sort_keys sorts str) or in map order. */
    public JsonWriter sortKeys(boolean sorted) {
        return new JsonWriter(indent, sorted, asciiOnly);
    }

    /**
     * The same writer with or without Python's ensure_ascii (on by default). Either way quote, backslash,
     * newline, return, tab, backspace and form feed get their short escapes and other control characters a
     * lowercase backslash-u escape; with it, DEL and every non-ASCII character are escaped too (as a surrogate
     * pair above U+FFFF); without it they stay raw and the text must be encoded as UTF-8 ({@link #writeUtf8}).
     */
    public JsonWriter asciiOnly(boolean escapeNonAscii) {
        return new JsonWriter(indent, sortKeys, escapeNonAscii);
    }

    /**
     * The JSON text of {@code value}: a Map with String keys (or a {@link JsonObject}), a Collection, String,
     * Boolean, null, Long/Integer/Short/Byte/BigInteger, or Double/Float (a Float is widened to double first,
     * as Python's {@code float(tensor_value)} would be).
     *
     * @throws IllegalArgumentException naming the path ({@code $.layers[3]}) of a value with no JSON form
     */
    public String write(Object value) {
        StringBuilder out = new StringBuilder();
        writeValue(out, value, 0, "$");
        return out.toString();
    }

    /** The JSON text of {@code value} encoded as UTF-8. */
    public byte[] writeUtf8(Object value) {
        return write(value).getBytes(StandardCharsets.UTF_8);
    }

    private void writeValue(StringBuilder out, Object value, int depth, String path) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String) {
            writeString(out, (String) value, path);
        } else if (value instanceof Boolean) {
            out.append(((Boolean) value) ? "true" : "false");
        } else if (value instanceof Long || value instanceof Integer || value instanceof Short
                || value instanceof Byte || value instanceof BigInteger) {
            out.append(value);
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException(path + ": " + d + " has no JSON form (JSON has no NaN or infinity)");
            }
            out.append(PythonFloatRepr.of(d));
        } else if (value instanceof Map) {
            writeObject(out, (Map<?, ?>) value, depth + 1, path);
        } else if (value instanceof JsonObject) {
            writeObject(out, ((JsonObject) value).map(), depth + 1, path);
        } else if (value instanceof Collection) {
            writeArray(out, (Collection<?>) value, depth + 1, path);
        } else {
            throw new IllegalArgumentException(path + ": a " + value.getClass().getName()
                    + " has no JSON form; use a Map, Collection, String, Boolean, integer or floating-point number");
        }
    }

    private void writeObject(StringBuilder out, Map<?, ?> map, int depth, String path) {
        checkDepth(depth, path);
        if (map.isEmpty()) {
            out.append("{}");
            return;
        }
        List<String> keys = new ArrayList<>(map.size());
        for (Object key : map.keySet()) {
            if (!(key instanceof String)) {
                throw new IllegalArgumentException(path + ": object keys must be strings, but one is "
                        + (key == null ? "null" : "a " + key.getClass().getName() + " " + key));
            }
            keys.add((String) key);
        }
        if (sortKeys) keys.sort(JsonWriter::compareCodePoints);
        out.append('{');
        boolean first = true;
        for (String key : keys) {
            if (!first) out.append(',');
            first = false;
            newline(out, depth);
            String childPath = path + "." + key;
            writeString(out, key, childPath);
            out.append(indent > 0 ? ": " : ":");
            writeValue(out, map.get(key), depth, childPath);
        }
        newline(out, depth - 1);
        out.append('}');
    }

    private void writeArray(StringBuilder out, Collection<?> items, int depth, String path) {
        checkDepth(depth, path);
        if (items.isEmpty()) {
            out.append("[]");
            return;
        }
        out.append('[');
        int index = 0;
        for (Object item : items) {
            if (index > 0) out.append(',');
            newline(out, depth);
            writeValue(out, item, depth, path + "[" + index + "]");
            index++;
        }
        newline(out, depth - 1);
        out.append(']');
    }

    private void newline(StringBuilder out, int depth) {
        if (indent == 0) return;
        out.append('\n');
        for (int i = 0, n = depth * indent; i < n; i++) out.append(' ');
    }

    private void writeString(StringBuilder out, String s, String path) {
        out.append('"');
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); continue;
                case '\\': out.append("\\\\"); continue;
                case '\n': out.append("\\n"); continue;
                case '\r': out.append("\\r"); continue;
                case '\t': out.append("\\t"); continue;
                case '\b': out.append("\\b"); continue;
                case '\f': out.append("\\f"); continue;
                default:
                    break;
            }
            if (c < 0x20 || (asciiOnly && c >= 0x7F)) {
                appendUnicodeEscape(out, c);
            } else if (Character.isSurrogate(c)) {
                boolean paired = Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1));
                if (!paired) {
                    throw new IllegalArgumentException(path + String.format(": string has an unpaired surrogate U+%04X"
                            + " at index %d, which has no UTF-8 form", (int) c, i));
                }
                out.append(c).append(s.charAt(++i));
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }

    private static void appendUnicodeEscape(StringBuilder out, char c) {
        out.append("\\u").append(HEX[(c >> 12) & 0xF]).append(HEX[(c >> 8) & 0xF])
                .append(HEX[(c >> 4) & 0xF]).append(HEX[c & 0xF]);
    }

    private static void checkDepth(int depth, String path) {
        if (depth > MAX_DEPTH) {
            throw new IllegalArgumentException(path + ": nesting deeper than " + MAX_DEPTH
                    + " levels (does the value contain itself?)");
        }
    }

    private static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
