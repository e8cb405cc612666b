package dev.promptgrad.tokenizer;

import dev.promptgrad.json.JsonWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * SentencePiece-style BPE from tokenizer.json (Llama 2, TinyLlama): the test writes the tokenizer.json Hugging Face
 * ships for Llama 2 — Prepend/Replace normalizer, BPE with byte_fallback, Replace/ByteFallback/Fuse/Strip decoder —
 * from the vocabulary and scores of shared/tokenizers/llama2/tokenizer.bin (merges derived as HF's converter does),
 * and checks it against SentencePiece's known ids and against {@link Llama2cTokenizer}.
 */
class Llama2TokenizerJsonTest {
    @TempDir
    static Path temp;
    private static Llama2cTokenizer bin;
    private static HuggingFaceTokenizer json;

    @BeforeAll
    static void writeAndLoad() throws IOException {
        bin = Llama2cTokenizer.load(SharedTokenizerFiles.path("llama2/tokenizer.bin"));
        int n = bin.vocabSize();
        String[] pieces = new String[n];
        Map<String, Object> vocab = new LinkedHashMap<>();
        Map<String, Integer> idOf = new HashMap<>();
        for (int id = 0; id < n; id++) {
            pieces[id] = switch (id) {
                case 0 -> "<unk>";
                case 1 -> "<s>";
                case 2 -> "</s>";
                default -> bin.token(id).replace(' ', '▁');
            };
            vocab.put(pieces[id], (long) id);
            idOf.put(pieces[id], id);
        }
        // HF's SentencePieceExtractor: every split of a piece into two pieces is a merge, ordered by the merged
        // piece's score (highest first), then by the ids of the two halves
        List<int[]> merges = new ArrayList<>();  // {left, right, merged}
        for (int id = 3; id < n; id++) {
            String piece = pieces[id];
            for (int cut = 1; cut < piece.length(); cut++) {
                Integer left = idOf.get(piece.substring(0, cut)), right = idOf.get(piece.substring(cut));
                if (left != null && right != null) merges.add(new int[]{left, right, id});
            }
        }
        merges.sort(Comparator.<int[]>comparingDouble(m -> -bin.score(m[2]))
                .thenComparingInt(m -> m[2]).thenComparingInt(m -> m[0]).thenComparingInt(m -> m[1]));
        List<Object> mergeJson = new ArrayList<>();
        for (int[] m : merges) mergeJson.add(pieces[m[0]] + " " + pieces[m[1]]);

        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", "<unk>");
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("vocab", vocab);
        model.put("merges", mergeJson);
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("added_tokens", List.of(added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")));
        root.put("normalizer", Map.of("type", "Sequence", "normalizers", List.of(
                Map.of("type", "Prepend", "prepend", "▁"),
                Map.of("type", "Replace", "pattern", Map.of("String", " "), "content", "▁"))));
        root.put("pre_tokenizer", null);
        root.put("post_processor", Map.of("type", "TemplateProcessing",
                "single", List.of(Map.of("SpecialToken", Map.of("id", "<s>", "type_id", 0L)),
                                  Map.of("Sequence", Map.of("id", "A", "type_id", 0L)))));
        root.put("decoder", Map.of("type", "Sequence", "decoders", List.of(
                Map.of("type", "Replace", "pattern", Map.of("String", "▁"), "content", " "),
                Map.of("type", "ByteFallback"),
                Map.of("type", "Fuse"),
                Map.of("type", "Strip", "content", " ", "start", 1L, "stop", 0L))));
        root.put("model", model);
        Path file = temp.resolve("tokenizer.json");
        Files.write(file, JsonWriter.compact().writeUtf8(root));
        json = HuggingFaceTokenizer.load(file);
    }

    private static Map<String, Object> added(int id, String content) {
        Map<String, Object> token = new LinkedHashMap<>();
        token.put("id", (long) id);
        token.put("content", content);
        token.put("single_word", false);
        token.put("lstrip", false);
        token.put("rstrip", false);
        token.put("normalized", false);
        token.put("special", true);
        return token;
    }

    @Test
    void specialIdsComeFromTheTemplate() {
        assertEquals(32000, json.vocabSize());
        assertEquals(1, json.bos().getAsInt());
        assertEquals(Set.of(0, 1, 2), json.specialTokens());
    }

    @Test
    void matchesSentencePieceIds() {
        assertArrayEquals(new int[]{15043, 3186}, json.encode("Hello world"));
        assertArrayEquals(new int[]{1, 9038, 2501, 263, 931}, json.encode("Once upon a time", true));
        assertArrayEquals(new int[]{29871, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}, json.encode("😀"));
    }

    @Test
    void agreesWithTheBinTokenizerAndRoundTrips() {
        String text = MixedText.generate(5, 60_000);
        int[] ids = json.encode(text);
        IdAssertions.assertSameIds(bin.encode(text), ids, json);
        assertEquals(text, json.decode(ids));
        assertEquals("<s> Hello world", json.decode(new int[]{1, 15043, 3186}));  // as HF decodes without skipping
        assertEquals("Hello world", json.decode(new int[]{1, 15043, 3186}, true));
    }

    @Test
    void addedTokensMatchOnlyWhenAsked() {
        assertArrayEquals(bin.encode("<s>hi"), json.encode("<s>hi"));
        // HF's legacy Llama behaviour: the text after a special token is normalized on its own, so gets a ▁ prefix
        int[] hi = json.encode("hi");
        assertEquals("▁hi", json.token(hi[0]));
        assertArrayEquals(new int[]{1, hi[0]}, json.encodeMatchingAddedTokens("<s>hi", false));
    }
}
