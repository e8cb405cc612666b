package dev.promptgrad.optim;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * Loads the optimizer fixtures written by tools/optimizer_fixtures.py with core's JSON parser and turns
 * their values into arrays. Test code only.
 */
final class FixtureJson {

    private FixtureJson() {
    }

    /** The fixture at {@code fixtures/optim/<name>} on the test class path, as a map. */
    static Map<String, Object> load(String name) {
        String resource = "/fixtures/optim/" + name;
        try (InputStream in = FixtureJson.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("missing fixture " + resource + "; run tools/optimizer_fixtures.py");
            return object(Json.parse(in.readAllBytes(), resource, JsonLimits.upTo(64 << 20)));
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
        for (int i = 0; i < out.length; i++) out[i] = (float) number(values.get(i));
        return out;
    }

    static int[] ints(Object value) {
        List<Object> values = list(value);
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) out[i] = Math.toIntExact(((Number) values.get(i)).longValue());
        return out;
    }

    static double number(Object value) {
        return ((Number) value).doubleValue();
    }
}
