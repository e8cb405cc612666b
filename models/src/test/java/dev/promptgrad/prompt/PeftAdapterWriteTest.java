package dev.promptgrad.prompt;

import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.Messages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * {@link PeftAdapter#write}: the folder it writes is byte for byte the one the PyTorch fixture script writes as
 * PEFT's save_pretrained does, and the one PEFT 0.21's own save_pretrained wrote (adapter-peft/, by
 * tools/hf_crosscheck.py) but for the two config fields that PEFT adds; its safetensors header and config text are
 * exactly PEFT's, and it reads back.
 */
class PeftAdapterWriteTest {
    private static final Path FIXTURE_ADAPTER = Fixtures.folder("gpt2-tiny").resolve("adapter");
    private static final PeftAdapter.TuningConfig GPT2_TINY_RANDOM =
            new PeftAdapter.TuningConfig("gpt2-tiny", 2, 4, "RANDOM", null, null);

    @TempDir
    Path folder;

    @Test
    void writesTheFixtureAdapterByteForByte() throws IOException {
        PeftAdapter fixture = PeftAdapter.read(FIXTURE_ADAPTER);
        Path out = folder.resolve("adapter");
        PeftAdapter.write(out, fixture.embeddings(), 5, 16, GPT2_TINY_RANDOM);
        for (String file : new String[] {PeftAdapter.CONFIG_FILE, PeftAdapter.WEIGHTS_FILE}) {
            assertArrayEquals(Files.readAllBytes(FIXTURE_ADAPTER.resolve(file)), Files.readAllBytes(out.resolve(file)),
                    file);
        }
        try (var files = Files.list(out)) {
            assertEquals(2, files.count(), "no temporary file may be left behind");
        }
    }

    /**
     * PEFT 0.21 saves {@code modules_to_save} (null) and {@code peft_version} as well. promptgrad writes neither: it
     * is not PEFT, and adapters without them load in PEFT 0.21 (tools/hf_crosscheck.py loads the fixtures' ones).
     */
    @ParameterizedTest
    @CsvSource({"gpt2-tiny, CAUSAL_LM", "llama-tiny, CAUSAL_LM", "llama-tiny-gqa, CAUSAL_LM",
            "llama-tiny-llama3, CAUSAL_LM", "bert-tiny, FEATURE_EXTRACTION"})
    void writesWhatPeftItselfSavedButForTheFieldsPeftAdds(String model, String taskType) throws IOException {
        Path peftSaved = Fixtures.folder(model).resolve("adapter-peft");
        PeftAdapter saved = PeftAdapter.read(peftSaved);
        Path out = folder.resolve(model);
        PeftAdapter.write(out, saved.embeddings(), saved.virtualTokens(), saved.width(),
                new PeftAdapter.TuningConfig(model, 2, 4, "RANDOM", null, null, taskType));
        assertArrayEquals(Files.readAllBytes(peftSaved.resolve(PeftAdapter.WEIGHTS_FILE)),
                Files.readAllBytes(out.resolve(PeftAdapter.WEIGHTS_FILE)), "weights as PEFT saves them");
        String peftConfig = Files.readString(peftSaved.resolve(PeftAdapter.CONFIG_FILE));
        String withoutPeftsOwn = peftConfig.replace("  \"modules_to_save\": null,\n", "")
                .replace("  \"peft_version\": \"0.21.0\",\n", "");
        assertEquals(peftConfig.length() - 55, withoutPeftsOwn.length(), "both PEFT-only lines found");
        assertEquals(withoutPeftsOwn, Files.readString(out.resolve(PeftAdapter.CONFIG_FILE)));
    }

    @Test
    void safetensorsHeaderIsPeftsExactly() throws IOException {
        float[] prompt = new float[3 * 4];
        for (int i = 0; i < prompt.length; i++) prompt[i] = i * 0.25f - 1;
        PeftAdapter.write(folder, prompt, 3, 4, GPT2_TINY_RANDOM);
        byte[] bytes = Files.readAllBytes(folder.resolve(PeftAdapter.WEIGHTS_FILE));
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLength = buffer.getLong();
        String header = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        String json = "{\"__metadata__\":{\"format\":\"pt\"},\"prompt_embeddings\":{\"dtype\":\"F32\",\"shape\":[3,4],"
                + "\"data_offsets\":[0,48]}}";
        assertEquals(json + " ".repeat((int) headerLength - json.length()), header);
        assertEquals(0, headerLength % 8, "data starts 8-aligned");
        assertEquals(8 + headerLength + 48, bytes.length);
        buffer.position(8 + (int) headerLength);
        for (float expected : prompt) assertEquals(expected, buffer.getFloat(), "little-endian F32 data");
        try (SafetensorsFile file = SafetensorsFile.open(folder.resolve(PeftAdapter.WEIGHTS_FILE))) {
            assertEquals(Map.of("format", "pt"), file.metadata());
            assertEquals("[prompt_embeddings]", file.names().toString());
            assertArrayEquals(new long[] {3, 4}, file.info("prompt_embeddings").shape());
        }
        PeftAdapter back = PeftAdapter.read(folder);
        assertEquals("PROMPT_TUNING", back.peftType());
        assertArrayEquals(prompt, back.embeddings());
    }

    @Test
    void configHasPeftsFieldsSortedWithTwoSpaceIndent() {
        String text = PeftAdapter.configJson(20, 768, new PeftAdapter.TuningConfig("gpt2", 12, 12, "TEXT",
                "Classify \"this\" review: é", "gpt2"));
        assertEquals("""
                {
                  "auto_mapping": null,
                  "base_model_name_or_path": "gpt2",
                  "inference_mode": true,
                  "num_attention_heads": 12,
                  "num_layers": 12,
                  "num_transformer_submodules": 1,
                  "num_virtual_tokens": 20,
                  "peft_type": "PROMPT_TUNING",
                  "prompt_tuning_init": "TEXT",
                  "prompt_tuning_init_text": "Classify \\"this\\" review: \\u00e9",
                  "revision": null,
                  "task_type": "CAUSAL_LM",
                  "token_dim": 768,
                  "tokenizer_kwargs": null,
                  "tokenizer_name_or_path": "gpt2"
                }""", text);
    }

    @Test
    void refusesWhatPeftWouldRefuseAndNonFiniteValues() {
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> new PeftAdapter.TuningConfig("m", 2, 4, "TEXT", "hello", null)), "tokenizer_name_or_path");
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> new PeftAdapter.TuningConfig("m", 2, 4, "LABELS", null, null)), "LABELS", "RANDOM");
        float[] prompt = new float[6];
        prompt[4] = Float.NaN;
        Path out = folder.resolve("nan");
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> PeftAdapter.write(out, prompt, 2, 3, GPT2_TINY_RANDOM)), "prompt_embeddings[1, 1]", "NaN");
        assertFalse(Files.exists(out.resolve(PeftAdapter.WEIGHTS_FILE)));
        assertThrows(IllegalArgumentException.class,
                () -> PeftAdapter.write(out, new float[5], 2, 3, GPT2_TINY_RANDOM));
    }

    @Test
    void rewritingReplacesBothFiles() {
        PeftAdapter.write(folder, new float[] {1, 2, 3, 4}, 2, 2, GPT2_TINY_RANDOM);
        PeftAdapter.write(folder, new float[] {5, 6}, 1, 2, GPT2_TINY_RANDOM);
        PeftAdapter back = PeftAdapter.read(folder);
        assertEquals(1, back.virtualTokens());
        assertArrayEquals(new float[] {5, 6}, back.embeddings());
    }
}
