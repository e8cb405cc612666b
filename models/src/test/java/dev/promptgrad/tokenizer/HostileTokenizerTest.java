package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crafted tokenizer files that used to allocate on a header's word, hang or overflow the stack (docs/fuzzing.md):
 * ids of two billion, ids the vocabulary does not define, catastrophic and deeply recursive regexes, an oversized
 * tokenizer.bin, a WordPiece word far longer than any piece. Each is refused (or handled) with a message naming the
 * file and what is wrong.
 */
class HostileTokenizerTest {
    @TempDir
    Path temp;

    private Path write(String json) throws IOException {
        return Files.writeString(temp.resolve("tokenizer.json"), json);
    }

    /** A WordPiece tokenizer.json with the given vocabulary entries and extra top-level sections. */
    private Path wordPiece(String vocab, String extra) throws IOException {
        return write("""
                {"added_tokens": [], %s
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, %s}}}
                """.formatted(extra, vocab));
    }

    /** A byte-level-free BPE tokenizer.json over the letters a and b. */
    private Path bpe(String vocab, String addedTokens, String preTokenizer) throws IOException {
        return write("""
                {"added_tokens": [%s], "pre_tokenizer": %s,
                 "model": {"type": "BPE", "unk_token": "<unk>", "vocab": {"<unk>": 0, "a": 1, "b": 2%s},
                           "merges": []}}
                """.formatted(addedTokens, preTokenizer, vocab));
    }

    @Test
    void aWordPieceIdOfTwoBillionIsRefusedBeforeAnyArrayIsSized() throws IOException {
        Path file = wordPiece("\"b\": 2000000000", "");
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file));
        assertMentions(e, file.toString(), "model.vocab['b'] is 2000000000", "expected an integer id from 0 to 2");
    }

    @Test
    void aWordPieceAddedTokenBeyondTheEntriesIsRefused() throws IOException {
        Path file = write("""
                {"added_tokens": [{"id": 2147483647, "content": "[BIG]", "special": true}],
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}}}
                """);
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file));
        assertMentions(e, file.toString(), "added_tokens[0].id", "is 2147483647, outside 0..2");
    }

    @Test
    void wordPieceTemplateAndPadIdsMustBeDefined() throws IOException {
        Path template = wordPiece("\"b\": 2", """
                "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]"}},
                  {"Sequence": {"id": "A"}}], "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [101]}}},""");
        TokenizerFormatException t = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(template));
        assertMentions(t, template.toString(), "post_processor's special token id 101 is not an id", "ids 0..2");

        Path pad = wordPiece("\"b\": 2", "\"padding\": {\"pad_id\": -5},");
        TokenizerFormatException p = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(pad));
        assertMentions(p, pad.toString(), "padding.pad_id -5 is not an id");
    }

    @Test
    void aWordPieceWordFarLongerThanAnyPieceEncodesInLinearTime() throws IOException {
        Path file = write("""
                {"added_tokens": [],
                 "model": {"type": "WordPiece", "unk_token": "[UNK]", "max_input_chars_per_word": 1000000000,
                           "vocab": {"[UNK]": 0, "ab": 1, "##ab": 2}}}
                """);
        Tokenizer tokenizer = Tokenizer.load(file);
        String word = "ab".repeat(100_000);
        int[] ids = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> tokenizer.encode(word));
        int[] expected = new int[100_000];
        java.util.Arrays.fill(expected, 2);
        expected[0] = 1;
        assertArrayEquals(expected, ids);
    }

    @Test
    void bpeIdsBeyondTheEntriesAndNegativeAddedIdsAreRefused() throws IOException {
        Path big = bpe(", \"c\": 2147483000", "", "null");
        TokenizerFormatException b = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(big));
        assertMentions(b, big.toString(), "model.vocab['c'] is 2147483000, outside 0..3");

        Path negative = bpe("", "{\"id\": -1, \"content\": \"<x>\"}", "null");
        TokenizerFormatException n = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(negative));
        assertMentions(n, negative.toString(), "added_tokens[0].id is -1, outside 0..3");
    }

    @Test
    void aCatastrophicRegexStopsWithinItsBudget() throws IOException {
        Path file = bpe("", "", """
                {"type": "Split", "pattern": {"Regex": "(.*a){20}!"}, "behavior": "Isolated", "invert": false}""");
        Tokenizer tokenizer = Tokenizer.load(file);
        // unbounded, this match takes longer than a CI run (n^20 backtracking over 60 characters)
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class,
                () -> assertTimeoutPreemptively(Duration.ofSeconds(20), () -> tokenizer.encode("a".repeat(60))));
        assertMentions(e, file.toString(), "/(.*a){20}!/", "catastrophic backtracking", "a text of 60");
    }

    @Test
    void aRegexThatRecursesPerRepetitionIsStoppedAtTheStack() throws IOException {
        Path file = bpe("", "", """
                {"type": "Split", "pattern": {"Regex": "(?:a|b)+"}, "behavior": "Isolated", "invert": false}""");
        Tokenizer tokenizer = Tokenizer.load(file);
        String text = "ab".repeat(500_000);
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> tokenizer.encode(text));
        assertMentions(e, file.toString(), "/(?:a|b)+/", "recursed deeper than the stack", "1000000 characters");
    }

    @Test
    void aRegexNestedTooDeeplyToCompileIsRefused() throws IOException {
        String nested = "(".repeat(100_000) + "a" + ")".repeat(100_000);
        Path file = bpe("", "", """
                {"type": "Split", "pattern": {"Regex": "%s"}, "behavior": "Isolated", "invert": false}"""
                .formatted(nested));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file));
        assertMentions(e, file.toString(), "pre_tokenizer.pattern", "Stack overflow during pattern compilation");
        assertTrue(e.getMessage().length() < 400, "the message shows the start of the regex only");
    }

    @Test
    void anOversizedTokenizerBinIsRefusedBeforeItIsRead() throws IOException {
        Path file = temp.resolve("tokenizer.bin");
        try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(Llama2cTokenizer.MAX_FILE_BYTES + 1);
        }
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(file));
        assertMentions(e, file.toString(), (Llama2cTokenizer.MAX_FILE_BYTES + 1) + " bytes is more than the");
    }
}
