package dev.promptgrad.optim;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the optimizer fixtures written by tools/optimizer_fixtures.py (JSON objects, arrays, numbers,
 * strings, booleans, null) into maps, lists, doubles and strings. Test code only: strict enough for files
 * the script writes, not a general JSON library.
 */
final class FixtureJson {
    private final String text;
    private final String source;
    private int at;

    private FixtureJson(String text, String source) {
        this.text = text;
        this.source = source;
    }

    /** The fixture at {@code fixtures/optim/<name>} on the test class path, as a map. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> load(String name) {
        String resource = "/fixtures/optim/" + name;
        try (InputStream in = FixtureJson.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("missing fixture " + resource + "; run tools/optimizer_fixtures.py");
            FixtureJson reader = new FixtureJson(new String(in.readAllBytes(), StandardCharsets.UTF_8), resource);
            Object value = reader.value();
            reader.skipSpace();
            if (reader.at != reader.text.length()) throw reader.error("trailing text");
            return (Map<String, Object>) value;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read fixture " + resource, e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(Object value) {
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return (List<Object>) value;
    }

    static float[] floats(Object value) {
        List<Object> values = list(value);
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) (double) (Double) values.get(i);
        return out;
    }

    static int[] ints(Object value) {
        List<Object> values = list(value);
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) out[i] = (int) (double) (Double) values.get(i);
        return out;
    }

    static double number(Object value) {
        return (Double) value;
    }

    private Object value() {
        skipSpace();
        if (at >= text.length()) throw error("unexpected end");
        char c = text.charAt(at);
        return switch (c) {
            case '{' -> objectValue();
            case '[' -> arrayValue();
            case '"' -> stringValue();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> numberValue();
        };
    }

    private Map<String, Object> objectValue() {
        Map<String, Object> map = new LinkedHashMap<>();
        at++;
        skipSpace();
        if (text.charAt(at) == '}') {
            at++;
            return map;
        }
        while (true) {
            skipSpace();
            String key = stringValue();
            skipSpace();
            expect(':');
            map.put(key, value());
            skipSpace();
            if (text.charAt(at) == ',') at++;
            else {
                expect('}');
                return map;
            }
        }
    }

    private List<Object> arrayValue() {
        List<Object> list = new ArrayList<>();
        at++;
        skipSpace();
        if (text.charAt(at) == ']') {
            at++;
            return list;
        }
        while (true) {
            list.add(value());
            skipSpace();
            if (text.charAt(at) == ',') at++;
            else {
                expect(']');
                return list;
            }
        }
    }

    private String stringValue() {
        expect('"');
        int end = text.indexOf('"', at);
        if (end < 0) throw error("unterminated string");
        String s = text.substring(at, end);
        if (s.indexOf('\\') >= 0) throw error("escapes are not used by the fixture script");
        at = end + 1;
        return s;
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, at)) throw error("expected " + word);
        at += word.length();
        return value;
    }

    private Double numberValue() {
        int start = at;
        while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
        if (start == at) throw error("unexpected character '" + text.charAt(at) + "'");
        return Double.parseDouble(text.substring(start, at));
    }

    private void expect(char c) {
        if (at >= text.length() || text.charAt(at) != c) throw error("expected '" + c + "'");
        at++;
    }

    private void skipSpace() {
        while (at < text.length() && Character.isWhitespace(text.charAt(at))) at++;
    }

    private IllegalStateException error(String what) {
        return new IllegalStateException(source + ": " + what + " at character " + at);
    }
}
