package dev.promptgrad.json;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Output compared with CPython 3.11's json.dumps (the expected strings were printed by it), and parse/write
 * round trips.
 */
class JsonWriterTest {

    private static final JsonLimits LIMITS = JsonLimits.upTo(1 << 20);

    /** A PEFT-like adapter_config.json, in insertion order (the writer must sort it). */
    private static Map<String, Object> adapterConfig() {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("peft_type", "PROMPT_TUNING");
        config.put("task_type", "CAUSAL_LM");
        config.put("num_virtual_tokens", 20);
        config.put("token_dim", 768L);
        config.put("inference_mode", true);
        config.put("base_model_name_or_path", null);
        config.put("prompt_tuning_init", "TEXT");
        config.put("prompt_tuning_init_text", "Classify: \"yes\" / no\n");
        config.put("tokenizer_kwargs", Map.of());
        config.put("modules_to_save", List.of());
        config.put("revision", null);
        config.put("learning_rate", 0.0003);
        config.put("scale", 1e-05);
        config.put("layers", List.of(1, List.of(2, Map.of()), List.of()));
        return config;
    }

    @Test
    void prettySortedMatchesPythonSortKeysIndent2() {
        // json.dumps(cfg, sort_keys=True, indent=2)
        String python = "{\n  \"base_model_name_or_path\": null,\n  \"inference_mode\": true,\n  \"layers\": [\n"
                + "    1,\n    [\n      2,\n      {}\n    ],\n    []\n  ],\n  \"learning_rate\": 0.0003,\n"
                + "  \"modules_to_save\": [],\n  \"num_virtual_tokens\": 20,\n  \"peft_type\": \"PROMPT_TUNING\",\n"
                + "  \"prompt_tuning_init\": \"TEXT\",\n  \"prompt_tuning_init_text\": \"Classify: \\\"yes\\\" / no\\n\",\n"
                + "  \"revision\": null,\n  \"scale\": 1e-05,\n  \"task_type\": \"CAUSAL_LM\",\n  \"token_dim\": 768,\n"
                + "  \"tokenizer_kwargs\": {}\n}";
        assertEquals(python, JsonWriter.pretty().sortKeys(true).write(adapterConfig()));
    }

    @Test
    void compactKeepsMapOrderWithoutSpaces() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("b", 1);
        map.put("a", Arrays.asList(1, 2.5, "x", null, false));
        assertEquals("{\"b\":1,\"a\":[1,2.5,\"x\",null,false]}", JsonWriter.compact().write(map));
        assertEquals("[]", JsonWriter.compact().write(List.of()));
        assertEquals("{}", JsonWriter.pretty().write(Map.of()));
        assertEquals("\"s\"", JsonWriter.pretty().write("s"));
    }

    @Test
    void sortsKeysByCodePointLikePython() {
        // json.dumps({"b":1,"a":[1,2.5,"x"],"\ue000":0,"\U0001F600":1}, sort_keys=True, separators=(",",":"))
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("b", 1);
        map.put("a", List.of(1, 2.5, "x"));
        map.put("\ue000", 0);
        map.put("\ud83d\ude00", 1);
        assertEquals("{\"a\":[1,2.5,\"x\"],\"b\":1,\"\\ue000\":0,\"\\ud83d\\ude00\":1}",
                JsonWriter.compact().sortKeys(true).write(map));
    }

    @Test
    void escapesStringsLikePython() {
        String s = "caf\u00e9 \u4e2d \ud83d\ude00 \u007f \u0001 \t tab \\ / \"q\" \u2028";
        // json.dumps(s)
        assertEquals("\"caf\\u00e9 \\u4e2d \\ud83d\\ude00 \\u007f \\u0001 \\t tab \\\\ / \\\"q\\\" \\u2028\"",
                JsonWriter.compact().write(s));
        // json.dumps(s, ensure_ascii=False)
        assertEquals("\"caf\u00e9 \u4e2d \ud83d\ude00 \u007f \\u0001 \\t tab \\\\ / \\\"q\\\" \u2028\"",
                JsonWriter.compact().asciiOnly(false).write(s));
        assertArrayEquals("\"\u00e9\"".getBytes(StandardCharsets.UTF_8),
                JsonWriter.compact().asciiOnly(false).writeUtf8("\u00e9"));
        assertEquals("\"\\b\\f\\r\\n\\u001f\"", JsonWriter.compact().write("\b\f\r\n\u001f"));
    }

    @Test
    void loneSurrogatesAreEscapedOrRefused() {
        assertEquals("\"\\ud800x\"", JsonWriter.compact().write("\ud800x"), "as Python's ensure_ascii does");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> JsonWriter.compact().asciiOnly(false).write(Map.of("k", "a\udc00")));
        assertEquals("$.k: string has an unpaired surrogate U+DC00 at index 1, which has no UTF-8 form", e.getMessage());
    }

    @Test
    void numbers() {
        List<Object> numbers = List.of(1, -2L, (short) 3, (byte) 4, new BigInteger("123456789012345678901234567890"),
                0.1, 1e-05, 1e16, -0.0, 0.1f, 100.0);
        // json.dumps([..., float(numpy.float32(0.1)), 100.0])
        assertEquals("[1,-2,3,4,123456789012345678901234567890,0.1,1e-05,1e+16,-0.0,0.10000000149011612,100.0]",
                JsonWriter.compact().write(numbers));
    }

    @Test
    void refusesValuesWithoutJsonForm() {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("lr", List.of(1.0, Double.NaN));
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class, () -> JsonWriter.compact().write(map));
        assertEquals("$.lr[1]: NaN has no JSON form (JSON has no NaN or infinity)", nan.getMessage());
        IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
                () -> JsonWriter.compact().write(List.of(new StringBuilder("x"))));
        assertEquals("$[0]: a java.lang.StringBuilder has no JSON form; use a Map, Collection, String, Boolean,"
                + " integer or floating-point number", other.getMessage());
        Map<Object, Object> intKey = new LinkedHashMap<>();
        intKey.put(1, "a");
        IllegalArgumentException key = assertThrows(IllegalArgumentException.class, () -> JsonWriter.compact().write(intKey));
        assertEquals("$: object keys must be strings, but one is a java.lang.Integer 1", key.getMessage());
        List<Object> cycle = new ArrayList<>();
        cycle.add(cycle);
        IllegalArgumentException deep = assertThrows(IllegalArgumentException.class, () -> JsonWriter.compact().write(cycle));
        assertEquals("$" + "[0]".repeat(512) + ": nesting deeper than 512 levels (does the value contain itself?)",
                deep.getMessage());
    }

    @Test
    void parseThenWriteReproducesPythonOutput() {
        String python = JsonWriter.pretty().sortKeys(true).write(adapterConfig());
        Object parsed = Json.parse(python, "adapter_config.json", LIMITS);
        assertEquals(python, JsonWriter.pretty().write(parsed));
        String compact = "{\"z\":[1,0.5,-1e-07,\"\\u00e9\\n\",{\"k\":null}],\"a\":true}";
        assertEquals(compact, JsonWriter.compact().write(Json.parse(compact, "x.json", LIMITS)));
    }

    @Test
    void writeThenParseGivesTheSameValues() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("ints", List.of(Long.MIN_VALUE, 0L, Long.MAX_VALUE));
        value.put("doubles", List.of(Double.MIN_VALUE, -Double.MAX_VALUE, 1.0 / 3, 123456.789e-30));
        value.put("text", "\u0000\u001f \ud83d\ude00 \\ \"");
        value.put("nested", List.of(Map.of("a", List.of()), true));
        for (JsonWriter writer : List.of(JsonWriter.compact(), JsonWriter.pretty(), JsonWriter.compact().asciiOnly(false))) {
            assertEquals(value, Json.parse(writer.write(value), "round-trip.json", LIMITS));
            assertEquals(value, Json.parse(writer.writeUtf8(value), "round-trip.json", LIMITS));
        }
    }
}
