package dev.promptgrad.json;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Typed access to a parsed config, and the messages for missing or mistyped keys. */
class JsonObjectTest {

    private static final String CONFIG = "{\"n_layer\": 12, \"n_embd\": 768, \"layer_norm_epsilon\": 1e-05,"
            + " \"scale\": 2, \"tie\": true, \"model_type\": \"gpt2\", \"rope_scaling\": {\"factor\": \"2\"},"
            + " \"bos\": null, \"ids\": [1, 2, 3], \"names\": [\"a\", 1], \"huge\": 4294967296,"
            + " \"long_text\": \"" + "x".repeat(50) + "\"}";

    private static JsonObject config() {
        return JsonObject.of(Json.parse(CONFIG, "config.json", JsonLimits.upTo(4096)), "config.json");
    }

    private static String error(Runnable access) {
        return assertThrows(JsonException.class, access::run).getMessage();
    }

    @Test
    void readsTypedValues() {
        JsonObject c = config();
        assertEquals(12, c.requireInt("n_layer"));
        assertEquals(768L, c.requireLong("n_embd"));
        assertEquals(1e-05, c.requireDouble("layer_norm_epsilon"));
        assertEquals(2.0, c.requireDouble("scale"), "an integer is a number too");
        assertTrue(c.requireBoolean("tie"));
        assertEquals("gpt2", c.requireString("model_type"));
        assertArrayEquals(new long[] {1, 2, 3}, c.requireLongs("ids"));
        assertArrayEquals(new int[] {1, 2, 3}, c.requireInts("ids"));
        assertArrayEquals(new double[] {1, 2, 3}, c.requireDoubles("ids"));
        assertEquals(List.of("n_layer", "n_embd"), List.copyOf(c.keys()).subList(0, 2));
    }

    @Test
    void absentAndNullKeysTakeTheFallback() {
        JsonObject c = config();
        assertEquals(7, c.intOr("n_inner", 7));
        assertEquals(7, c.intOr("bos", 7), "JSON null counts as absent");
        assertEquals(12, c.intOr("n_layer", 7));
        assertEquals(0.5, c.doubleOr("dropout", 0.5));
        assertEquals("x", c.stringOr("bos", "x"));
        assertFalse(c.booleanOr("missing", false));
        assertEquals(9L, c.longOr("missing", 9L));
        assertFalse(c.has("bos"));
        assertTrue(c.optionalObject("bos").isEmpty());
        assertTrue(c.optionalArray("ids").isPresent());
        assertEquals("2", c.requireObject("rope_scaling").requireString("factor"));
    }

    @Test
    void errorsNameTheFileAndKey() {
        JsonObject c = config();
        assertEquals("config.json: missing required key 'n_head'", error(() -> c.requireInt("n_head")));
        assertEquals("config.json: key 'bos' must not be null", error(() -> c.requireInt("bos")));
        assertEquals("config.json: key 'model_type' must be an integer, but is a string \"gpt2\"",
                error(() -> c.requireLong("model_type")));
        assertEquals("config.json: key 'layer_norm_epsilon' must be an integer, but is a number 1e-05",
                error(() -> c.requireInt("layer_norm_epsilon")));
        assertEquals("config.json: key 'huge' must be a 32-bit integer, but is 4294967296",
                error(() -> c.requireInt("huge")));
        assertEquals("config.json: key 'rope_scaling.factor' must be a number, but is a string \"2\"",
                error(() -> c.requireObject("rope_scaling").requireDouble("factor")));
        assertEquals("config.json: key 'ids' must be a string, but is an array", error(() -> c.requireString("ids")));
        assertEquals("config.json: key 'tie' must be an array, but is true", error(() -> c.requireArray("tie")));
        assertEquals("config.json: key 'n_layer' must be true or false, but is a number 12",
                error(() -> c.requireBoolean("n_layer")));
        assertEquals("config.json: key 'names[1]' must be a string, but is a number 1",
                error(() -> c.requireStrings("names")));
        assertEquals("config.json: key 'ids' must be an object, but is an array", error(() -> c.requireObject("ids")));
        assertEquals("config.json: key 'long_text' must be true or false, but is a string \"" + "x".repeat(37)
                + "...\"", error(() -> c.requireBoolean("long_text")));
        assertEquals("config.json: key 'model_type' must be one of gpt2, llama",
                c.error("model_type", "must be one of gpt2, llama").getMessage());
        assertEquals("config.json: the top-level value must be an object, but is an array",
                error(() -> JsonObject.of(List.of(), "config.json")));
    }
}
