package dev.promptgrad.prompt;

import dev.promptgrad.safetensors.SafetensorsDType;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The PEFT adapter folder: the golden fixture's adapter, P_TUNING, tolerance of unknown keys, every refusal. */
class PeftAdapterTest {
    private static final Path FIXTURE = Path.of("src/test/resources/fixtures/gpt2-tiny");

    @TempDir
    Path folder;

    @Test
    void readsTheGoldenFixturesAdapter() {
        PeftAdapter adapter = PeftAdapter.read(FIXTURE.resolve("adapter"));
        assertEquals("PROMPT_TUNING", adapter.peftType());
        assertEquals(5, adapter.virtualTokens());
        assertEquals(16, adapter.width());
        try (SafetensorsFile golden = SafetensorsFile.open(FIXTURE.resolve("golden.safetensors"))) {
            assertArrayEquals(golden.readFloats("prompt"), adapter.embeddings());
        }
        assertSame(adapter, adapter.requireWidth(16, "gpt2-tiny"));
    }

    /**
     * Adapters PEFT 0.21 saved itself (tools/hf_crosscheck.py --save), with its peft_version and
     * modules_to_save: four decoders' (CAUSAL_LM, 5 rows) and bert-tiny's (FEATURE_EXTRACTION, 3 rows).
     */
    @ParameterizedTest
    @CsvSource({"gpt2-tiny, 5", "llama-tiny, 5", "llama-tiny-gqa, 5", "llama-tiny-llama3, 5", "bert-tiny, 3"})
    void readsAdaptersPeftItselfSaved(String model, int rows) {
        Path fixture = FIXTURE.resolveSibling(model);
        PeftAdapter adapter = PeftAdapter.read(fixture.resolve("adapter-peft"));
        assertEquals("PROMPT_TUNING", adapter.peftType());
        assertEquals(rows, adapter.virtualTokens());
        try (SafetensorsFile golden = SafetensorsFile.open(fixture.resolve("golden.safetensors"))) {
            assertArrayEquals(golden.readFloats("prompt"), adapter.embeddings());
        }
        assertSame(adapter, adapter.requireWidth(16, model));
    }

    private Path adapter(String config, SafetensorsWriter weights) throws IOException {
        Path dir = folder.resolve("adapter");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), config);
        if (weights != null) weights.write(dir.resolve("adapter_model.safetensors"));
        return dir;
    }

    private static SafetensorsWriter prompt(float[] values, int... shape) {
        return new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", values, shape);
    }

    private static final String CONFIG_2x3 = "{\"peft_type\": \"PROMPT_TUNING\", \"num_virtual_tokens\": 2, \"token_dim\": 3}";

    @Test
    void acceptsPTuningUnknownKeysAndHalfPrecision() throws IOException {
        float[] values = {0.5f, -1, 2, 0.25f, 3, -0.125f};
        Path dir = adapter("{\"peft_type\": \"P_TUNING\", \"num_virtual_tokens\": 2, \"encoder_hidden_size\": 8,"
                        + " \"some_future_key\": {\"x\": [1]}}",
                new SafetensorsWriter().add("prompt_embeddings", SafetensorsDType.F16, values, 2, 3)
                        .add("prompt_encoder.mlp_head.0.weight", new float[]{1}, 1));
        PeftAdapter adapter = PeftAdapter.read(dir);
        assertEquals("P_TUNING", adapter.peftType());
        assertEquals(3, adapter.width());
        assertArrayEquals(values, adapter.embeddings());
    }

    private String refusal(String config, SafetensorsWriter weights) throws IOException {
        Path dir = adapter(config, weights);
        return assertThrows(AdapterFormatException.class, () -> PeftAdapter.read(dir)).getMessage();
    }

    @Test
    void refusesAWidthMismatchNamingBothNumbers() throws IOException {
        PeftAdapter adapter = PeftAdapter.read(adapter(CONFIG_2x3, prompt(new float[6], 2, 3)));
        AdapterFormatException e = assertThrows(AdapterFormatException.class, () -> adapter.requireWidth(64, "stories260K.bin"));
        assertEquals("the adapter " + folder.resolve("adapter") + " holds prompts 3 wide (token_dim), but stories260K.bin"
                + " has hidden size 64; the adapter was made for another model", e.getMessage());
    }

    @Test
    void refusesNonFiniteValuesNamingTheElement() throws IOException {
        String nan = refusal(CONFIG_2x3, prompt(new float[]{0, 0, 0, 0, Float.NaN, 0}, 2, 3));
        assertTrue(nan.endsWith("adapter_model.safetensors: prompt_embeddings[1, 1] is NaN; a prompt must be finite"
                + " (was training diverging?)"), nan);
        String inf = refusal(CONFIG_2x3, prompt(new float[]{0, 0, Float.NEGATIVE_INFINITY, 0, 0, 0}, 2, 3));
        assertTrue(inf.contains("prompt_embeddings[0, 2] is -Infinity"), inf);
    }

    @Test
    void refusesOtherAdapterKinds() throws IOException {
        String lora = refusal("{\"peft_type\": \"LORA\", \"r\": 8}", null);
        assertTrue(lora.endsWith("adapter_config.json: peft_type is 'LORA', which is not a soft prompt; promptgrad reads"
                + " PROMPT_TUNING and P_TUNING adapters"), lora);
        String seq2seq = refusal("{\"peft_type\": \"PROMPT_TUNING\", \"num_virtual_tokens\": 2, \"num_transformer_submodules\": 2}",
                prompt(new float[12], 4, 3));
        assertTrue(seq2seq.contains("key 'num_transformer_submodules' is 2"), seq2seq);
    }

    @Test
    void refusesShapesThatDisagreeWithTheConfig() throws IOException {
        String rows = refusal(CONFIG_2x3, prompt(new float[9], 3, 3));
        assertTrue(rows.endsWith("'prompt_embeddings' has shape [3, 3], but adapter_config.json says num_virtual_tokens 2,"
                + " so it must be [2, hidden]"), rows);
        String width = refusal(CONFIG_2x3, prompt(new float[8], 2, 4));
        assertTrue(width.endsWith("'prompt_embeddings' is 4 wide, but adapter_config.json says token_dim 3"), width);
        String rank = refusal(CONFIG_2x3, prompt(new float[6], 6));
        assertTrue(rank.contains("has shape [6]"), rank);
    }

    @Test
    void refusesMissingPieces() throws IOException {
        Path nowhere = folder.resolve("absent");
        assertTrue(assertThrows(AdapterFormatException.class, () -> PeftAdapter.read(nowhere)).getMessage()
                .equals(nowhere + " does not exist; a PEFT adapter is a folder holding adapter_config.json and adapter_model.safetensors"));
        Path empty = Files.createDirectories(folder.resolve("empty"));
        assertEquals(empty + " has no adapter_config.json; a PEFT adapter folder holds adapter_config.json and"
                + " adapter_model.safetensors", assertThrows(AdapterFormatException.class, () -> PeftAdapter.read(empty)).getMessage());
        String noWeights = refusal(CONFIG_2x3, null);
        assertEquals(folder.resolve("adapter") + " has no adapter_model.safetensors", noWeights);
        String noTensor = refusal(CONFIG_2x3, new SafetensorsWriter().add("other", new float[6], 2, 3));
        assertTrue(noTensor.endsWith("has no tensor 'prompt_embeddings' (it has [other])"), noTensor);
        String noCount = refusal("{\"peft_type\": \"PROMPT_TUNING\"}", prompt(new float[6], 2, 3));
        assertTrue(noCount.endsWith("adapter_config.json: missing required key 'num_virtual_tokens'"), noCount);
        String notJson = refusal("{peft_type: 1}", prompt(new float[6], 2, 3));
        assertTrue(notJson.contains("adapter_config.json:1:2"), notJson);
    }
}
