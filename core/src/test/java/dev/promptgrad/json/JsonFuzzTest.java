package dev.promptgrad.json;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.testing.HostileInput;

/**
 * Fuzz target for the JSON reader that every config.json, tokenizer.json, index and JSONL line goes through: any
 * bytes parse or fail with a JsonException naming the document, within the limits. Seeds and found inputs are in
 * src/test/resources/dev/promptgrad/json/JsonFuzzTestInputs; docs/fuzzing.md says how to fuzz for longer.
 */
class JsonFuzzTest {
    private static final JsonLimits LIMITS = new JsonLimits(64, 1 << 16, 1 << 20);

    @FuzzTest(maxDuration = "5m")
    void parse(byte[] input) {
        HostileInput.expectOnly(() -> {
            Object value = Json.parse(input, "fuzz.json", LIMITS);
            JsonWriter.compact().write(value);
        }, "fuzz.json", JsonException.class);
    }
}
