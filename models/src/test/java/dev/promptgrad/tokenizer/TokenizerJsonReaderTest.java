package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Small hand-made tokenizer.json files: SentencePiece-style BPE with byte fallback whose ids are worked out by hand,
 * the older Metaspace form, unknown characters, added tokens, and malformed files refused with messages that name
 * the file and the offending key.
 */
class TokenizerJsonReaderTest {
    @TempDir
    Path temp;

    /** Ids 0-2 control, 3-258 the byte pieces, then ▁ a b c ▁a ab ▁ab; merges ▁+a, a+b, ▁a+b in that rank order. */
    private static final String SENTENCEPIECE_MODEL = """
            "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
              "continuing_subword_prefix": null, "end_of_word_suffix": null,
              "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, %s, "▁": 259, "a": 260, "b": 261, "c": 262, "▁a": 263,
                        "ab": 264, "▁ab": 265},
              "merges": ["▁ a", ["a", "b"], "▁a b"]}
            """.formatted(bytePieces());

    private static String bytePieces() {
        StringBuilder out = new StringBuilder();
        for (int b = 0; b < 256; b++) out.append(b == 0 ? "" : ", ").append(String.format("\"<0x%02X>\": %d", b, 3 + b));
        return out.toString();
    }

    private static final String LLAMA2_STYLE = """
            {"added_tokens": [
               {"id": 0, "content": "<unk>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
               {"id": 1, "content": "<s>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
               {"id": 2, "content": "</s>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
               {"id": 266, "content": "<mask>", "special": true, "lstrip": true, "rstrip": false, "single_word": false, "normalized": false}],
             "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
             "pre_tokenizer": null,
             "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                         {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
             %s}
            """.formatted(SENTENCEPIECE_MODEL);

    private Path write(String name, String json) throws IOException {
        Path file = temp.resolve(name);
        Files.writeString(file, json);
        return file;
    }

    private HuggingFaceTokenizer load(String json) throws IOException {
        return HuggingFaceTokenizer.load(write("tokenizer.json", json));
    }

    @Test
    void sentencePieceBpeByHand() throws IOException {
        HuggingFaceTokenizer tokenizer = load(LLAMA2_STYLE);
        // "▁ab▁cab": ▁+a (rank 0) first, then the a+b pairs (rank 1, left one first), then ▁a+b (rank 2)
        assertArrayEquals(new int[]{265, 259, 262, 264}, tokenizer.encode("ab cab"));
        assertEquals("ab cab", tokenizer.decode(new int[]{265, 259, 262, 264}));
        // 😀 is not a piece: its bytes F0 9F 98 80 become <0xF0>... at 3 + byte
        assertArrayEquals(new int[]{263, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}, tokenizer.encode("a😀"));
        assertEquals("a😀", tokenizer.decode(tokenizer.encode("a😀")));
        assertEquals("a\uFFFDa", tokenizer.decode(new int[]{260, 3 + 0xF0, 260}));
        assertEquals(267, tokenizer.vocabSize());
        assertTrue(tokenizer.bos().isEmpty());  // neither a config nor a template names one
    }

    @Test
    void addedTokensWithLstrip() throws IOException {
        HuggingFaceTokenizer tokenizer = load(LLAMA2_STYLE);
        // "<mask>" swallows the space before it; each plain segment is normalized separately ("c" → "▁c")
        assertArrayEquals(new int[]{265, 266, 259, 262}, tokenizer.encodeMatchingAddedTokens("ab <mask>c", false));
        assertEquals("<mask>", tokenizer.token(266));
        assertTrue(tokenizer.specialTokens().contains(266));
        assertEquals("ab", tokenizer.decode(new int[]{265, 266}, true));
        // as plain text, "<mask>" is characters: "<" is not a piece, so it falls back to bytes
        assertEquals(3 + '<', tokenizer.encode("ab <mask>c")[2]);
    }

    @Test
    void olderMetaspaceForm() throws IOException {
        HuggingFaceTokenizer tokenizer = load("""
                {"normalizer": null,
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
                 "decoder": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
                 %s}""".formatted(SENTENCEPIECE_MODEL));
        // pieces "▁ab" and "▁cab" are encoded apart
        assertArrayEquals(new int[]{265, 259, 262, 264}, tokenizer.encode("ab cab"));
        assertEquals("ab cab", tokenizer.decode(new int[]{265, 259, 262, 264}));
    }

    @Test
    void unknownCharactersWithoutByteFallback() throws IOException {
        String model = """
                {"model": {"type": "BPE", "unk_token": %s, "fuse_unk": %s, "vocab": {"<unk>": 0, "a": 1}, "merges": []}}""";
        assertArrayEquals(new int[]{0, 1}, load(model.formatted("\"<unk>\"", "true")).encode("xya"));
        assertArrayEquals(new int[]{0, 0, 1}, load(model.formatted("\"<unk>\"", "false")).encode("xya"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> load(model.formatted("null", "false")).encode("xya"));
        assertTrue(e.getMessage().contains("U+0078"), e.getMessage());
    }

    @Test
    void configNamesSpecialTokens() throws IOException {
        write("tokenizer_config.json", """
                {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null}""");
        HuggingFaceTokenizer tokenizer = load(LLAMA2_STYLE);
        assertEquals(1, tokenizer.bos().getAsInt());
        assertEquals(2, tokenizer.eos().getAsInt());
        assertTrue(tokenizer.pad().isEmpty());
        assertArrayEquals(new int[]{1, 265}, tokenizer.encode("ab", true));

        write("tokenizer_config.json", "{\"bos_token\": \"<bos>\"}");
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> load(LLAMA2_STYLE));
        assertTrue(e.getMessage().contains("tokenizer_config.json") && e.getMessage().contains("'<bos>'"), e.getMessage());
    }

    @Test
    void loadPicksTheFormat() throws IOException {
        write("tokenizer.json", LLAMA2_STYLE);
        assertInstanceOf(HuggingFaceTokenizer.class, Tokenizer.load(temp));
        assertInstanceOf(HuggingFaceTokenizer.class, Tokenizer.load(temp.resolve("tokenizer.json")));
        assertInstanceOf(Llama2cTokenizer.class, Tokenizer.load(SharedTokenizerFiles.path("llama2/tokenizer.bin")));
        Path model = write("tokenizer.model", "x");
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(model));
        assertTrue(e.getMessage().contains("tokenizer.model"), e.getMessage());
        assertThrows(UncheckedIOException.class, () -> HuggingFaceTokenizer.load(temp.resolve("missing.json")));
    }

    /** Loads {@code json} expecting a refusal whose message names the file and contains each of {@code parts}. */
    private void refused(String json, String... parts) throws IOException {
        Path file = write("bad.json", json);
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> HuggingFaceTokenizer.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        for (String part : parts) assertTrue(e.getMessage().contains(part), "no '" + part + "' in: " + e.getMessage());
    }

    @Test
    void refusesUnknownTypes() throws IOException {
        refused("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "model.type is 'WordPiece'", "BPE");
        refused("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "'Unigram'");
        refused("{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, %s}".formatted(SENTENCEPIECE_MODEL),
                "pre_tokenizer.type 'Whitespace'");
        refused("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, {\"type\": \"BertPreTokenizer\"}]}, %s}"
                .formatted(SENTENCEPIECE_MODEL), "pre_tokenizer.pretokenizers[1].type 'BertPreTokenizer'");
        refused("{\"normalizer\": {\"type\": \"BertNormalizer\"}, %s}".formatted(SENTENCEPIECE_MODEL),
                "normalizer.type 'BertNormalizer'");
        refused("{\"decoder\": {\"type\": \"WordPiece\"}, %s}".formatted(SENTENCEPIECE_MODEL), "decoder.type 'WordPiece'");
        refused("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"}, %s}"
                .formatted(SENTENCEPIECE_MODEL), "pre_tokenizer.pattern", "does not compile");
        refused("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Glued\"}, %s}"
                .formatted(SENTENCEPIECE_MODEL), "'Glued'");
    }

    @Test
    void refusesMergesOutsideTheVocabulary() throws IOException {
        String model = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [%s]}}";
        refused(model.formatted("\"a b\", \"a x\""), "model.merges[1]", "'x'");
        refused(model.formatted("[\"b\", \"a\"]"), "model.merges[0]", "'ba'");
        refused(model.formatted("\"a b c\""), "model.merges[0]", "two pieces");
        refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}", "id 0");
        refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}}",
                "unk_token '<unk>'");
        refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"continuing_subword_prefix\": \"##\"}}",
                "continuing_subword_prefix");
    }

    @Test
    void refusesBrokenJson() throws IOException {
        refused("{\"model\": {\"type\": \"BPE\", ");
        refused("[1, 2]", "the top level");
        refused("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"zero\"}, \"merges\": []}}", "model.vocab['a']");
    }
}
