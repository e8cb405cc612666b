package dev.promptgrad.tokenizer;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.promptgrad.tokenizer.IdAssertions.assertSameIds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WordPiece: all-MiniLM-L6-v2's tokenizer.json (from the Maven Central jar) against the ids that
 * tools/minilm_reference.py computes with its own Python WordPiece (accents, CJK, punctuation, control characters,
 * long words, truncation), ids worked out by hand on tiny vocabularies, decoding, and refused files.
 */
class WordPieceTokenizerTest {
    @TempDir
    Path temp;

    static byte[] resource(String name) {
        try (InputStream in = WordPieceTokenizerTest.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException(name + " is not on the test classpath");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static WordPieceTokenizer minilm() {
        return WordPieceTokenizer.read(resource("/all-minilm-l6-v2-tokenizer.json"), "all-minilm-l6-v2-tokenizer.json");
    }

    @Test
    void minilmIdsMatchThePythonReference() {
        WordPieceTokenizer tokenizer = minilm();
        JsonObject reference = JsonObject.of(Json.parse(resource("/fixtures/minilm/reference.json"), "reference.json",
                JsonLimits.upTo(1 << 20)), "reference.json");
        List<Object> cases = reference.requireArray("wordpiece");
        assertEquals(17, cases.size());
        for (Object c : cases) {
            JsonObject wordpiece = JsonObject.of(c, "reference.json");
            String text = wordpiece.requireString("text");
            int maxLength = wordpiece.requireInt("max_length");
            assertSameIds(wordpiece.requireInts("ids"), tokenizer.encodeForModel(text, maxLength), tokenizer);
            if (maxLength == 128) assertArrayEquals(wordpiece.requireInts("ids"), tokenizer.encodeForModel(text), text);
        }
        List<String> sentences = reference.requireStrings("sentences");
        List<Object> ids = reference.requireArray("ids");
        for (int i = 0; i < sentences.size(); i++) {
            int[] expected = ((List<?>) ids.get(i)).stream().mapToInt(id -> Math.toIntExact((Long) id)).toArray();
            assertArrayEquals(expected, tokenizer.encodeForModel(sentences.get(i)), sentences.get(i));
        }
    }

    @Test
    void minilmByHand() {
        WordPieceTokenizer tokenizer = minilm();
        assertEquals(30522, tokenizer.vocabSize());
        assertEquals(101, tokenizer.bos().getAsInt());
        assertEquals(102, tokenizer.eos().getAsInt());
        assertEquals(0, tokenizer.pad().getAsInt());
        assertEquals(100, tokenizer.unk());
        assertEquals(128, tokenizer.maxLength().getAsInt());
        // lower-cased; "," and "!" are words of their own
        assertArrayEquals(ids(tokenizer, "hello", ",", "world", "!"), tokenizer.encode("Hello, world!"));
        // greedy longest match first, continuations prefixed with ##: "una" is a piece, so not "un" "##aff" "##able"
        assertArrayEquals(ids(tokenizer, "una", "##ffa", "##ble"), tokenizer.encode("unaffable"));
        assertArrayEquals(ids(tokenizer, "token", "##ization"), tokenizer.encode("Tokenization"));
        // accents stripped because lowercase is on and strip_accents is null
        assertArrayEquals(ids(tokenizer, "naive", "cafe"), tokenizer.encode("NAÏVE Café"));
        // lower-cased character by character, as Hugging Face's Rust normalizer: a word-final Σ is σ, not ς
        assertArrayEquals(ids(tokenizer, "σ"), tokenizer.encode("Σ"));
        assertArrayEquals(tokenizer.encode("ΟΔΥΣΣΕΥσ"), tokenizer.encode("ΟΔΥΣΣΕΥΣ"));
        // a special token's text is plain characters (split_special_tokens=True): "[", "cl", "##s", "]"
        assertArrayEquals(ids(tokenizer, "[", "cl", "##s", "]"), tokenizer.encode("[CLS]"));
        // each ideograph is a word; one that the vocabulary lacks is [UNK] alone
        assertArrayEquals(ids(tokenizer, "中", "文"), tokenizer.encode("中文"));
        // 100 characters are still split; 101 are one [UNK]
        assertTrue(tokenizer.encode("a".repeat(100)).length > 1);
        assertArrayEquals(new int[]{100}, tokenizer.encode("a".repeat(101)));
        // a word with a character no piece covers is one [UNK], not a partial split
        assertArrayEquals(new int[]{100}, tokenizer.encode("ab\uD83E\uDD17cd"));
        assertArrayEquals(new int[]{101, 102}, tokenizer.encodeForModel(""));
        assertArrayEquals(new int[]{101, tokenizer.idOf("hello").getAsInt(), 102},
                tokenizer.encodeForModel("hello world", 3));
        assertThrows(IllegalArgumentException.class, () -> tokenizer.encodeForModel("hello", 1));
    }

    @Test
    void minilmDecodes() {
        WordPieceTokenizer tokenizer = minilm();
        int[] ids = tokenizer.encodeForModel("Unaffable, isn't it? I'm sure!");
        // Hugging Face cleans up each piece on its own, so " ," loses its space but "isn" "'" "t" stay apart
        assertEquals("unaffable, isn ' t it? i ' m sure!", tokenizer.decode(ids, true));
        assertEquals("[CLS] unaffable, isn ' t it? i ' m sure! [SEP]", tokenizer.decode(ids, false));
    }

    private static int[] ids(WordPieceTokenizer tokenizer, String... pieces) {
        int[] ids = new int[pieces.length];
        for (int i = 0; i < pieces.length; i++) ids[i] = tokenizer.idOf(pieces[i]).orElseThrow();
        return ids;
    }

    /** [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, then a few pieces. */
    private static final String TINY_VOCAB = """
            {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "ab": 4, "##c": 5, "a": 6, "##b": 7, "é": 8, "e": 9,
             "!": 10, "AB": 11, "##bc": 12}""";

    private WordPieceTokenizer tiny(String normalizer, String postProcessor, String truncation) {
        String json = """
                {"normalizer": %s, "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": %s,
                 "truncation": %s, "padding": null, "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
                 "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}],
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                           "max_input_chars_per_word": 5, "vocab": %s}}
                """.formatted(normalizer, postProcessor, truncation, TINY_VOCAB);
        return WordPieceTokenizer.read(json.getBytes(StandardCharsets.UTF_8), "tiny.json");
    }

    @Test
    void tinyVocabularyByHand() {
        String bert = "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3], \"cls\": [\"[CLS]\", 2]}";
        WordPieceTokenizer lower = tiny("{\"type\": \"BertNormalizer\", \"lowercase\": true, \"strip_accents\": null}",
                bert, "null");
        // "abc": longest first is "ab" then "##c" (not "a" "##bc"); "abbc": "ab" "##bc"
        assertArrayEquals(new int[]{4, 5}, lower.encode("abc"));
        assertArrayEquals(new int[]{4, 12}, lower.encode("abbc"));
        // "ABé!" lower-cased and accent-stripped to "abe" "!" -> "ab" then "e" is not a continuation: [UNK]
        assertArrayEquals(new int[]{1, 10}, lower.encode("ABé!"));
        // six characters exceed max_input_chars_per_word 5
        assertArrayEquals(new int[]{1}, lower.encode("abbbbb"));
        assertArrayEquals(new int[]{2, 4, 5, 3}, lower.encodeForModel("abc"));
        assertEquals("abc!", lower.decode(new int[]{2, 4, 5, 10, 3}, true));

        // lowercase off, strip_accents explicitly off: "AB" and "é" survive
        WordPieceTokenizer cased = tiny("{\"type\": \"BertNormalizer\", \"lowercase\": false, \"strip_accents\": false,"
                + " \"clean_text\": true, \"handle_chinese_chars\": true}", "null", "null");
        assertArrayEquals(new int[]{11, 8}, cased.encode("AB\u0000 é"));
        assertArrayEquals(new int[]{11, 8}, cased.encodeForModel("AB é"));
        assertTrue(cased.bos().isEmpty());

        // lowercase off but strip_accents on: "é" (NFC) -> "e"
        WordPieceTokenizer stripped = tiny(
                "{\"type\": \"BertNormalizer\", \"lowercase\": false, \"strip_accents\": true}",
                bert, "{\"max_length\": 4, \"direction\": \"Left\", \"strategy\": \"LongestFirst\", \"stride\": 0}");
        assertArrayEquals(new int[]{9}, stripped.encode("é"));
        // truncation from the left keeps the last two pieces
        assertArrayEquals(new int[]{2, 10, 6, 3}, stripped.encodeForModel("ab ! a"));
    }

    @Test
    void templateProcessingWithSeveralSpecials() {
        String template = """
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                            {"SpecialToken": {"id": "[PAD]", "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                 "pair": [],
                 "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                                    "[PAD]": {"id": "[PAD]", "ids": [0], "tokens": ["[PAD]"]},
                                    "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}}""";
        WordPieceTokenizer tokenizer = tiny("null", template, "{\"max_length\": 5}");
        assertArrayEquals(new int[]{2, 0, 6, 11, 3}, tokenizer.encodeForModel("a AB a"));
        assertEquals(2, tokenizer.bos().getAsInt());
        assertEquals(3, tokenizer.eos().getAsInt());
    }

    @Test
    void tokenizerLoadDispatchesWordPiece() throws IOException {
        Path file = temp.resolve("tokenizer.json");
        Files.write(file, resource("/all-minilm-l6-v2-tokenizer.json"));
        Tokenizer loaded = Tokenizer.load(temp);
        WordPieceTokenizer wordPiece = assertInstanceOf(WordPieceTokenizer.class, loaded);
        assertArrayEquals(minilm().encode("Unaffable!"), wordPiece.encode("Unaffable!"));
        TokenizerFormatException bpeOnly =
                assertThrows(TokenizerFormatException.class, () -> HuggingFaceTokenizer.load(file));
        assertTrue(bpeOnly.getMessage().contains("WordPieceTokenizer.load"), bpeOnly.getMessage());
    }

    @Test
    void refusesWhatItDoesNotImplement() {
        refused("{\"type\": \"Lowercase\"}", "null", "null", "normalizer.type 'Lowercase'");
        refused("null", "{\"type\": \"RobertaProcessing\"}", "null", "post_processor.type 'RobertaProcessing'");
        refused("null", "{\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 9], \"cls\": [\"[CLS]\", 2]}", "null",
                "'[SEP]' is 9, but model.vocab gives 3");
        refused("null", "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"[CLS]\"}}],"
                + " \"special_tokens\": {\"[CLS]\": {\"id\": \"[CLS]\", \"ids\": [2]}}}", "null", "has no Sequence");
        refused("null", "null", "{\"max_length\": 8, \"direction\": \"Middle\"}", "must be Right or Left");
        TokenizerFormatException noUnk = assertThrows(TokenizerFormatException.class, () -> WordPieceTokenizer.read(
                "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}}}"
                        .getBytes(StandardCharsets.UTF_8), "nounk.json"));
        assertTrue(noUnk.getMessage().contains("nounk.json: model.unk_token '<unk>' is not in model.vocab"),
                noUnk.getMessage());
        TokenizerFormatException duplicate = assertThrows(TokenizerFormatException.class, () -> WordPieceTokenizer.read(
                "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"a\", \"vocab\": {\"a\": 0, \"b\": 0}}}"
                        .getBytes(StandardCharsets.UTF_8), "dup.json"));
        assertTrue(duplicate.getMessage().contains("gives id 0 to both"), duplicate.getMessage());
    }

    private void refused(String normalizer, String postProcessor, String truncation, String expected) {
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class,
                () -> tiny(normalizer, postProcessor, truncation));
        assertTrue(e.getMessage().contains("tiny.json") && e.getMessage().contains(expected), e.getMessage());
    }
}
