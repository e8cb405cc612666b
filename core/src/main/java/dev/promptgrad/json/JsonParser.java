package dev.promptgrad.json;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 recursive-descent parser over decoded text, producing plain Java values (see
 * {@link Json}). It enforces {@link JsonLimits} as it goes and rejects duplicate keys, unpaired surrogates
 * and numbers too large for a double. It is not lenient: no comments, trailing commas, NaN or single quotes.
 */
final class JsonParser {
    private final String text;
    private final String source;
    private final JsonLimits limits;
    private final int length;
    private int pos;

    JsonParser(String text, String source, JsonLimits limits) {
        this.text = text;
        this.source = source;
        this.limits = limits;
        this.length = text.length();
    }

    Object parseDocument() {
        if (length > limits.maxDocumentSize()) {
            throw new JsonException(source, 1, 1, "the document has " + length
                    + " characters, more than the limit of " + limits.maxDocumentSize());
        }
        skipWhitespace();
        if (pos == length) throw fail(pos, "expected a JSON value but the document is empty");
        Object value = parseValue(0);
        skipWhitespace();
        if (pos < length) throw fail(pos, "expected the end of the document after the top-level value, but found " + describe(pos));
        return value;
    }

    private Object parseValue(int depth) {
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return parseObject(depth + 1);
            case '[':
                return parseArray(depth + 1);
            case '"':
                return parseString();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return parseNumber();
                throw fail(pos, "expected a value (object, array, string, number, true, false or null) but found " + describe(pos));
        }
    }

    private Map<String, Object> parseObject(int depth) {
        checkDepth(depth);
        pos++;  // '{'
        Map<String, Object> object = new LinkedHashMap<>();
        skipWhitespace();
        if (pos < length && text.charAt(pos) == '}') {
            pos++;
            return object;
        }
        while (true) {
            if (pos >= length || text.charAt(pos) != '"') {
                boolean afterComma = !object.isEmpty();
                throw fail(pos, "expected a string key" + (afterComma ? " after ','" : "") + " but found " + describe(pos)
                        + (afterComma && pos < length && text.charAt(pos) == '}' ? " (trailing commas are not allowed)" : ""));
            }
            int keyAt = pos;
            String key = parseString();
            skipWhitespace();
            expect(':', "':' after the object key " + quote(key));
            skipWhitespace();
            if (pos >= length) throw fail(pos, "expected a value for key " + quote(key) + " but found the end of the document");
            Object value = parseValue(depth);
            if (object.containsKey(key)) throw fail(keyAt, "duplicate key " + quote(key) + " in object");
            object.put(key, value);
            skipWhitespace();
            if (pos < length && text.charAt(pos) == ',') {
                pos++;
                skipWhitespace();
                continue;
            }
            expect('}', "',' or '}' after the value of key " + quote(key));
            return object;
        }
    }

    private List<Object> parseArray(int depth) {
        checkDepth(depth);
        pos++;  // '['
        List<Object> array = new ArrayList<>();
        skipWhitespace();
        if (pos < length && text.charAt(pos) == ']') {
            pos++;
            return array;
        }
        while (true) {
            if (pos >= length) throw fail(pos, "expected a value or ']' but found the end of the document");
            if (text.charAt(pos) == ']' && !array.isEmpty()) {
                throw fail(pos, "expected a value after ',' but found ']' (trailing commas are not allowed)");
            }
            array.add(parseValue(depth));
            skipWhitespace();
            if (pos < length && text.charAt(pos) == ',') {
                pos++;
                skipWhitespace();
                continue;
            }
            expect(']', "',' or ']' after array element " + (array.size() - 1));
            return array;
        }
    }

    private String parseString() {
        int start = pos;
        pos++;  // opening quote
        StringBuilder out = new StringBuilder();
        while (true) {
            int runStart = pos;
            while (pos < length) {
                char c = text.charAt(pos);
                if (c == '"' || c == '\\' || c < 0x20 || Character.isSurrogate(c)) break;
                pos++;
            }
            out.append(text, runStart, pos);
            checkStringLength(out, start);
            if (pos >= length) throw fail(start, "unterminated string: no closing '\"' before the end of the document");
            char c = text.charAt(pos);
            if (c == '"') {
                pos++;
                return out.toString();
            }
            if (c < 0x20) {
                throw fail(pos, String.format("control character U+%04X must be escaped inside a string"
                        + " (is the closing '\"' missing?)", (int) c));
            }
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && pos + 1 < length && Character.isLowSurrogate(text.charAt(pos + 1))) {
                    out.append(c).append(text.charAt(pos + 1));
                    pos += 2;
                    continue;
                }
                throw fail(pos, String.format("unpaired surrogate U+%04X in a string; the text is not valid Unicode", (int) c));
            }
            parseEscape(out);
        }
    }

    private void parseEscape(StringBuilder out) {
        int escapeAt = pos;
        pos++;  // backslash
        if (pos >= length) throw fail(escapeAt, "unterminated escape sequence at the end of the document");
        char e = text.charAt(pos++);
        switch (e) {
            case '"': out.append('"'); return;
            case '\\': out.append('\\'); return;
            case '/': out.append('/'); return;
            case 'b': out.append('\b'); return;
            case 'f': out.append('\f'); return;
            case 'n': out.append('\n'); return;
            case 'r': out.append('\r'); return;
            case 't': out.append('\t'); return;
            case 'u':
                break;
            default:
                throw fail(escapeAt, "invalid escape '\\" + printable(e) + "'; valid escapes are"
                        + " \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX");
        }
        char unit = (char) hex4(escapeAt);
        if (Character.isHighSurrogate(unit)) {
            if (pos + 1 < length && text.charAt(pos) == '\\' && text.charAt(pos + 1) == 'u') {
                int lowAt = pos;
                pos += 2;
                char low = (char) hex4(lowAt);
                if (Character.isLowSurrogate(low)) {
                    out.append(unit).append(low);
                    return;
                }
            }
            throw fail(escapeAt, String.format("unpaired surrogate \\u%04X: a high surrogate must be followed by"
                    + " a \\u escape of a low surrogate (DC00-DFFF)", (int) unit));
        }
        if (Character.isLowSurrogate(unit)) {
            throw fail(escapeAt, String.format("unpaired surrogate \\u%04X: a low surrogate must follow a high one", (int) unit));
        }
        out.append(unit);
    }

    private int hex4(int escapeAt) {
        if (pos + 4 > length) throw fail(escapeAt, "invalid escape: \\u needs four hex digits");
        int value = 0;
        for (int k = 0; k < 4; k++) {
            int digit = Character.digit(text.charAt(pos + k), 16);
            if (digit < 0 || text.charAt(pos + k) > 'f') {
                throw fail(escapeAt, "invalid escape: \\u needs four hex digits but found "
                        + describe(pos + k));
            }
            value = value * 16 + digit;
        }
        pos += 4;
        return value;
    }

    private Object parseNumber() {
        int start = pos;
        if (text.charAt(pos) == '-') pos++;
        if (pos >= length || !isDigit(text.charAt(pos))) {
            throw fail(pos, "expected a digit after '-' but found " + describe(pos));
        }
        if (text.charAt(pos) == '0') {
            pos++;
            if (pos < length && isDigit(text.charAt(pos))) throw fail(start, "numbers must not have leading zeros");
        } else {
            skipDigits();
        }
        boolean integral = true;
        if (pos < length && text.charAt(pos) == '.') {
            integral = false;
            pos++;
            if (pos >= length || !isDigit(text.charAt(pos))) {
                throw fail(pos, "expected a digit after the decimal point but found " + describe(pos));
            }
            skipDigits();
        }
        if (pos < length && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
            integral = false;
            pos++;
            if (pos < length && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) pos++;
            if (pos >= length || !isDigit(text.charAt(pos))) {
                throw fail(pos, "expected a digit in the exponent but found " + describe(pos));
            }
            skipDigits();
        }
        String token = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(token);
            } catch (NumberFormatException outsideLong) {
                // an integer beyond 64 bits: kept as the nearest double, as the Javadoc of Json says
            }
        }
        double value = Double.parseDouble(token);
        if (Double.isInfinite(value)) throw fail(start, "number " + abbreviate(token) + " is too large for a 64-bit float");
        return value;
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw fail(pos, "expected a value but found " + describe(pos) + " (did you mean " + word + "?)");
        }
        pos += word.length();
        return value;
    }

    private void checkDepth(int depth) {
        if (depth > limits.maxDepth()) {
            throw fail(pos, "arrays and objects nest deeper than the limit of " + limits.maxDepth() + " levels");
        }
    }

    private void checkStringLength(StringBuilder out, int start) {
        if (out.length() > limits.maxStringLength()) {
            throw fail(start, "string longer than the limit of " + limits.maxStringLength() + " characters");
        }
    }

    private void expect(char c, String what) {
        if (pos < length && text.charAt(pos) == c) {
            pos++;
            return;
        }
        throw fail(pos, "expected " + what + " but found " + describe(pos));
    }

    private void skipWhitespace() {
        while (pos < length) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            pos++;
        }
    }

    private void skipDigits() {
        while (pos < length && isDigit(text.charAt(pos))) pos++;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private String describe(int at) {
        if (at >= length) return "the end of the document";
        int cp = text.codePointAt(at);
        if (cp >= 0x20 && cp < 0x7F) return "'" + (char) cp + "'";
        if (isInvisible(cp)) return String.format("U+%04X", cp);
        return "'" + new String(Character.toChars(cp)) + "' (" + String.format("U+%04X", cp) + ")";
    }

    private static boolean isInvisible(int cp) {
        switch (Character.getType(cp)) {
            case Character.CONTROL:
            case Character.FORMAT:
            case Character.SURROGATE:
            case Character.PRIVATE_USE:
            case Character.UNASSIGNED:
            case Character.SPACE_SEPARATOR:
            case Character.LINE_SEPARATOR:
            case Character.PARAGRAPH_SEPARATOR:
                return true;
            default:
                return false;
        }
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7F ? String.valueOf(c) : String.format("u%04X", (int) c);
    }

    private static String quote(String key) {
        return JsonWriter.compact().write(abbreviate(key));
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    private JsonException fail(int at, String detail) {
        int line = 1;
        int lineStart = 0;
        int end = Math.min(at, length);
        for (int i = 0; i < end; i++) {
            if (text.charAt(i) == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        int column = 1 + text.codePointCount(lineStart, end);
        return new JsonException(source, line, column, detail);
    }
}
