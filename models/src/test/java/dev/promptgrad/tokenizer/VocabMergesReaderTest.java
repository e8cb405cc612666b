package dev.promptgrad.tokenizer;

import dev.promptgrad.data.BosEosRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * GPT-2's older tokenizer files (shared/tokenizers/gpt2's vocab.json and merges.txt, in a folder without
 * tokenizer.json) against the same folder's tokenizer.json: the same ids on a large mixed text and with added tokens
 * matched, the same special tokens, the same decoding; which file a folder's tokenizer is; and malformed files refused
 * by file and line.
 */
class VocabMergesReaderTest {
    private static HuggingFaceTokenizer fromJson;

    @TempDir
    Path dir;

    @BeforeAll
    static void loadReference() {
        fromJson = HuggingFaceTokenizer.load(SharedTokenizerFiles.path("gpt2/tokenizer.json"));
    }

    /** vocab.json, merges.txt and the two config files, copied into {@code dir} without tokenizer.json. */
    private Path olderFolder() throws IOException {
        for (String name : new String[]{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.copy(SharedTokenizerFiles.path("gpt2/" + name), dir.resolve(name));
        }
        return dir;
    }

    @Test
    void encodesDecodesAndNamesSpecialTokensAsTokenizerJsonDoes() throws IOException {
        Path folder = olderFolder();
        assertEquals(folder.resolve("vocab.json"), Tokenizer.locate(folder));
        HuggingFaceTokenizer older = (HuggingFaceTokenizer) Tokenizer.load(folder);
        assertEquals(50257, older.vocabSize());
        assertEquals(OptionalInt.of(50256), older.bos());
        assertEquals(OptionalInt.of(50256), older.eos());
        assertEquals(fromJson.specialTokens(), older.specialTokens());
        String text = MixedText.generate(77, 100_000) + " a<|endoftext|>b";
        int[] ids = older.encode(text);
        IdAssertions.assertSameIds(fromJson.encode(text), ids, older);
        assertArrayEquals(fromJson.encodeMatchingAddedTokens(text, true), older.encodeMatchingAddedTokens(text, true));
        assertEquals(text, older.decode(ids));
        assertEquals(fromJson.decode(ids, true), older.decode(ids, true));
        assertArrayEquals(older.encode(text), Tokenizer.load(folder.resolve("merges.txt")).encode(text));
        // GPT2Tokenizer adds no BOS or EOS unless tokenizer_config.json's add_bos_token asks
        assertEquals(BosEosRule.NONE, BosEosRule.of(folder, older));
    }

    @Test
    void addPrefixSpaceAndAddBosTokenFromTokenizerConfigAreHonoured() throws IOException {
        Path folder = olderFolder();
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_prefix_space\": true, \"add_bos_token\": true,"
                + " \"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|endoftext|>\"}");
        Tokenizer spaced = Tokenizer.load(folder);
        assertArrayEquals(fromJson.encode(" Hello world"), spaced.encode("Hello world"));
        assertEquals(new BosEosRule(OptionalInt.of(50256), OptionalInt.empty()), BosEosRule.of(folder, spaced));
    }

    @Test
    void aFolderPrefersTokenizerJsonThenTokenizerModelThenTheOlderPair() throws IOException {
        Path folder = olderFolder();
        Files.copy(SharedTokenizerFiles.path("llama2/tokenizer.model"), folder.resolve("tokenizer.model"));
        assertEquals(folder.resolve("tokenizer.model"), Tokenizer.locate(folder));
        Tokenizer sentencePiece = Tokenizer.load(folder);
        assertEquals(32000, sentencePiece.vocabSize());
        // LlamaTokenizer adds BOS by default; tokenizer_config.json's add_bos_token can turn it off
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_bos_token\": true}");
        assertEquals(new BosEosRule(OptionalInt.of(1), OptionalInt.empty()), BosEosRule.of(folder, sentencePiece));
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_bos_token\": false, \"add_eos_token\": true}");
        assertEquals(new BosEosRule(OptionalInt.empty(), OptionalInt.of(2)), BosEosRule.of(folder, sentencePiece));
        Files.copy(SharedTokenizerFiles.path("gpt2/tokenizer.json"), folder.resolve("tokenizer.json"));
        assertEquals(folder.resolve("tokenizer.json"), Tokenizer.locate(folder));
    }

    @Test
    void malformedFilesAreRefusedByFileAndLine() throws IOException {
        Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        assertMentions(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(dir.resolve("vocab.json"))),
                "vocab.json: merges.txt is missing beside it");
        assertNull(Tokenizer.locate(dir), "vocab.json alone is not a tokenizer");
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b\nab\n");
        assertMentions(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(dir)),
                "merges.txt:3: 'ab' is not a merge; each line is two pieces separated by one space");
        Files.write(dir.resolve("merges.txt"), new byte[]{'a', ' ', (byte) 0xC3, '\n'});
        assertMentions(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(dir)),
                "merges.txt is not valid UTF-8 text");
        Files.writeString(dir.resolve("merges.txt"), "a b\n", StandardCharsets.UTF_8);
        assertArrayEquals(new int[]{2, 0}, Tokenizer.load(dir).encode("aba"), "a header is optional");
        Files.writeString(dir.resolve("vocab.json"), "[\"a\", \"b\"]");
        assertMentions(assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(dir)),
                "vocab.json: the top level is not a JSON object of piece → id");
    }
}
