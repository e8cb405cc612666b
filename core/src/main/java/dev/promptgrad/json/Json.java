package dev.promptgrad.json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Reads JSON text strictly by RFC 8259 into plain Java values (see {@link #parse(String, String, JsonLimits)}),
 * within {@link JsonLimits}, with every error a {@link JsonException} naming the source, line, column and what
 * was expected. No comments, trailing commas, NaN, duplicate keys, invalid UTF-8 or byte order marks. Writing is
 * {@link JsonWriter}; typed access is {@link JsonObject}.
 */
public final class Json {

    private Json() {
    }

    /**
     * Parses text that is already decoded; {@code source} names it in errors. An object becomes a
     * {@code LinkedHashMap<String, Object>} in document order, an array an {@code ArrayList<Object>}, true/false a
     * Boolean, null a Java null, and a number a {@link Long} when it has no fraction or exponent and fits in 64
     * bits, else a {@link Double} (so larger integers lose precision; numbers beyond the double range are errors).
     * Unpaired surrogates, in escapes or raw, are errors.
     */
    public static Object parse(String text, String source, JsonLimits limits) {
        return new JsonParser(text, source, limits).parseDocument();
    }

    /** Parses UTF-8 bytes, rejecting any that are not well-formed UTF-8. */
    public static Object parse(byte[] utf8, String source, JsonLimits limits) {
        if (utf8.length > limits.maxDocumentSize()) {
            throw new JsonException(source, "the document is " + utf8.length + " bytes, more than the limit of "
                    + limits.maxDocumentSize());
        }
        return parse(StrictUtf8.decode(utf8, source), source, limits);
    }

    /**
     * Reads and parses a UTF-8 file; errors name it by {@code file.toString()}. A file larger than the limit
     * is refused before it is read.
     *
     * @throws UncheckedIOException if the file cannot be read
     */
    public static Object parseFile(Path file, JsonLimits limits) {
        String source = file.toString();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] bytes = in.readNBytes((int) Math.min(limits.maxDocumentSize() + 1, Integer.MAX_VALUE - 8));
            if (bytes.length > limits.maxDocumentSize()) {
                throw new JsonException(source, "the file is larger than the limit of " + limits.maxDocumentSize()
                        + " bytes for this kind of document");
            }
            return parse(bytes, source, limits);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read JSON file " + source + ": " + e.getMessage(), e);
        }
    }

    /** Reads a UTF-8 file whose top-level value must be an object. */
    public static JsonObject parseObjectFile(Path file, JsonLimits limits) {
        return JsonObject.of(parseFile(file, limits), file.toString());
    }

    /** Names a parsed value for an error message: "a string \"12\"", "a number 1.5", "an array", "an object", "true", "null". */
    public static String describe(Object value) {
        if (value == null) return "null";
        if (value instanceof Boolean) return value.toString();
        if (value instanceof String) {
            String s = (String) value;
            return "a string " + JsonWriter.compact().write(s.length() <= 40 ? s : s.substring(0, 37) + "...");
        }
        if (value instanceof Long || value instanceof Double) return "a number " + JsonWriter.compact().write(value);
        if (value instanceof List) return "an array";
        if (value instanceof Map) return "an object";
        return "a " + value.getClass().getSimpleName();
    }
}
