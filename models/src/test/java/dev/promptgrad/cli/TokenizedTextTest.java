package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.SafetensorsFile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Text through the command line: the golden gpt2-tiny weights in a folder with a hand-made Llama-style
 * tokenizer.json (BOS from the post-processor template, EOS from tokenizer_config.json), so every id is known.
 * Text data lines give the same loss and gradient as the ids they stand for; --text continues as the ids do.
 */
class TokenizedTextTest {
    private static final Path FIXTURE = Path.of("src/test/resources/fixtures/gpt2-tiny");

    /** &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, ▁ 3, a..z 4..29, then ▁a 30, ▁b 31; merge ▁ + a, ▁ + b. */
    private static final String TOKENIZER_JSON = """
            {"added_tokens": [
               {"id": 0, "content": "<unk>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
               {"id": 1, "content": "<s>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
               {"id": 2, "content": "</s>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false}],
             "normalizer": null,
             "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
             "post_processor": {"type": "TemplateProcessing",
               "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
               "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
             "decoder": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
             "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": false,
               "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, %s, "▁a": 30, "▁b": 31},
               "merges": ["▁ a", "▁ b"]}}
            """.formatted(letters());

    private static String letters() {
        StringBuilder out = new StringBuilder();
        for (char c = 'a'; c <= 'z'; c++) out.append(c == 'a' ? "" : ", ").append("\"").append(c).append("\": ").append(4 + c - 'a');
        return out.toString();
    }

    @TempDir
    Path folder;
    Path model;

    @BeforeEach
    void modelWithTokenizer() throws IOException {
        model = Files.createDirectories(folder.resolve("gpt2-tiny-text"));
        Files.copy(FIXTURE.resolve("config.json"), model.resolve("config.json"));
        Files.copy(FIXTURE.resolve("model.safetensors"), model.resolve("model.safetensors"));
        Files.writeString(model.resolve("tokenizer.json"), TOKENIZER_JSON);
        Files.writeString(model.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
    }

    private float[][] grad(String jsonl, String name) throws IOException {
        Path data = folder.resolve(name + ".jsonl");
        Files.writeString(data, jsonl);
        Path out = folder.resolve(name + ".safetensors");
        CliRun run = CliRun.of("grad", "--model", model.toString(), "--prompt", FIXTURE.resolve("adapter").toString(),
                "--data", data.toString(), "--out", out.toString(), "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject result = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        try (SafetensorsFile written = SafetensorsFile.open(out)) {
            return new float[][]{{(float) result.requireDouble("loss"), result.requireInt("labelled_tokens")},
                    written.readFloats("prompt_grad")};
        }
    }

    @Test
    void textLinesEqualTheIdsTheyStandFor() throws IOException {
        float[][] fromText = grad("{\"text\": \"ab c\"}\n{\"input\": \"b\", \"output\": \"ca\"}\n", "text");
        // "ab c" → ▁a b ▁ c with BOS; input "b" → <s> ▁b; output "ca" → ▁ c a, then </s>
        float[][] fromIds = grad("{\"input_ids\": [1, 30, 5, 3, 6]}\n"
                + "{\"input_ids\": [1, 31, 3, 6, 4, 2], \"labels\": [-100, -100, 3, 6, 4, 2]}\n", "ids");
        assertEquals(9, fromText[0][1]);
        assertArrayEquals(fromIds[0], fromText[0]);
        assertArrayEquals(fromIds[1], fromText[1]);
    }

    @Test
    void generateContinuesTheTextAsItsIds() {
        CliRun byText = CliRun.of("generate", "--model", model.toString(), "--text", "ab", "--max-new-tokens", "6",
                "--temperature", "0", "--json");
        CliRun byIds = CliRun.of("generate", "--model", model.toString(), "--input-ids", "1,30,5", "--max-new-tokens", "6",
                "--temperature", "0", "--json");
        assertEquals(Main.OK, byText.exitCode(), byText.describe());
        JsonObject text = JsonObject.of(Json.parse(byText.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        JsonObject ids = JsonObject.of(Json.parse(byIds.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals(List.of(1L, 30L, 5L), text.requireArray("input_ids"));
        assertEquals(ids.requireArray("generated_ids"), text.requireArray("generated_ids"));
        String full = text.requireString("text");
        assertTrue(full.startsWith("ab"), full);
        assertEquals(full, "ab" + text.requireString("generated_text"));
        assertEquals(full, ids.requireString("text"));

        CliRun plain = CliRun.of("generate", "--model", model.toString(), "--text", "ab", "--max-new-tokens", "6",
                "--temperature", "0");
        assertEquals(full + "\n", plain.out());
    }
}
