package dev.promptgrad.tokenizer;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static dev.promptgrad.tokenizer.IdAssertions.assertSameIds;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The real tokenizer files against their reference implementations on the same 150 varied texts (words with
 * contractions, numbers, accents, many scripts, emoji sequences, code, runs of whitespace; tools/tokenizer_ids.py):
 * GPT-2's tokenizer.json and its vocab.json + merges.txt against Hugging Face's tokenizers, Llama 2's
 * tokenizer.model and llama2.c's tokenizer.bin against SentencePiece, all-MiniLM-L6-v2's WordPiece against Hugging
 * Face's tokenizers. No special tokens are added, and a special token's text stays text. Decoding each reference id
 * list gives the text the reference decodes it to (GPT-2 and Llama 2 give every text back unchanged).
 */
class TokenizerReferenceIdsTest {
    private static final JsonObject REFERENCE = JsonObject.of(Json.parse(
            WordPieceTokenizerTest.resource("/fixtures/tokenizers/reference-ids.json"), "reference-ids.json",
            JsonLimits.upTo(1 << 20)), "reference-ids.json");

    @ParameterizedTest
    @CsvSource({"gpt2, gpt2/tokenizer.json", "gpt2, gpt2/vocab.json", "llama2, llama2/tokenizer.model",
            "llama2, llama2/tokenizer.bin", "minilm, "})
    void givesTheReferenceIds(String reference, String sharedFile) {
        Tokenizer tokenizer = sharedFile == null ? WordPieceTokenizerTest.minilm()
                : Tokenizer.load(SharedTokenizerFiles.path(sharedFile));
        List<String> texts = REFERENCE.requireStrings("texts");
        List<Object> expected = REFERENCE.requireArray(reference);
        assertEquals(150, texts.size());
        assertEquals(texts.size(), expected.size());
        JsonObject decoded = REFERENCE.requireObject("decoded").requireObject(reference);
        for (int i = 0; i < texts.size(); i++) {
            int[] ids = ((List<?>) expected.get(i)).stream().mapToInt(id -> Math.toIntExact((Long) id)).toArray();
            try {
                assertSameIds(ids, tokenizer.encode(texts.get(i)), tokenizer);
            } catch (AssertionError e) {
                throw new AssertionError("text " + i + " " + escaped(texts.get(i)) + ": " + e.getMessage(), e);
            }
            String text = decoded.stringOr(String.valueOf(i), texts.get(i));
            assertEquals(escaped(text), escaped(tokenizer.decode(ids)), reference + " decodes text " + i);
        }
    }

    private static String escaped(String text) {
        return "\"" + text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + "\"";
    }
}
