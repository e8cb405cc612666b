package dev.promptgrad.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import dev.promptgrad.json.JsonWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Llama 3 / Qwen2 shape of tokenizer.json — a Split pre-tokenizer with a regex (possessive quantifiers,
 * {@code (?i:...)}) followed by ByteLevel with use_regex false — checked on cl100k_base: the test writes a
 * tokenizer.json from jtokkit's ranks (merges derived the way Hugging Face converts tiktoken files), loads it, and
 * compares every id with jtokkit's own cl100k encoder on a large mixed text.
 */
class Cl100kTokenizerJsonTest {
    /** tiktoken's cl100k_base pattern. */
    private static final String CL100K = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
    private static final int RANKS = 100_256;

    @TempDir
    static Path temp;
    private static Encoding cl100k;
    private static HuggingFaceTokenizer loaded;

    @BeforeAll
    static void writeAndLoad() throws IOException {
        cl100k = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);
        Map<String, Object> vocab = new LinkedHashMap<>();
        Map<String, Integer> rankOf = new HashMap<>();
        String[] pieces = new String[RANKS];
        for (int rank = 0; rank < RANKS; rank++) {
            IntArrayList one = new IntArrayList();
            one.add(rank);
            pieces[rank] = alphabet(cl100k.decodeBytes(one));
            vocab.put(pieces[rank], (long) rank);
            rankOf.put(pieces[rank], rank);
        }
        List<Object> merges = new ArrayList<>();
        for (int rank = 0; rank < RANKS; rank++) {
            if (pieces[rank].length() < 2) continue;
            List<String> parts = tiktokenBpe(pieces[rank], rank, rankOf);
            assertEquals(2, parts.size(), "rank " + rank + " is not the merge of two lower ranks");
            merges.add(List.of(parts.get(0), parts.get(1)));
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", null);
        model.put("byte_fallback", false);
        model.put("ignore_merges", true);
        model.put("vocab", vocab);
        model.put("merges", merges);
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("added_tokens", List.of());
        root.put("normalizer", null);
        root.put("pre_tokenizer", Map.of("type", "Sequence", "pretokenizers", List.of(
                Map.of("type", "Split", "pattern", Map.of("Regex", CL100K), "behavior", "Isolated", "invert", false),
                Map.of("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true, "use_regex", false))));
        root.put("decoder", Map.of("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", true, "use_regex", true));
        root.put("model", model);
        Path file = temp.resolve("tokenizer.json");
        Files.write(file, JsonWriter.compact().writeUtf8(root));
        loaded = HuggingFaceTokenizer.load(file);
    }

    /** A string's bytes in GPT-2's byte-level alphabet. */
    private static String alphabet(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length);
        for (byte b : bytes) out.append(ByteLevelAlphabet.charOf(b));
        return out.toString();
    }

    /** tiktoken's BPE of one piece using only ranks below {@code maxRank}: what the piece is a merge of. */
    private static List<String> tiktokenBpe(String piece, int maxRank, Map<String, Integer> rankOf) {
        List<String> parts = new ArrayList<>();
        for (char c : piece.toCharArray()) parts.add(String.valueOf(c));
        while (true) {
            int best = -1, bestRank = maxRank;
            for (int i = 0; i + 1 < parts.size(); i++) {
                Integer rank = rankOf.get(parts.get(i) + parts.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) return parts;
            parts.set(best, parts.get(best) + parts.remove(best + 1));
        }
    }

    @Test
    void matchesJtokkitOnLargeMixedText() {
        assertEquals(RANKS, loaded.vocabSize());
        String text = MixedText.generate(99, 200_000);
        int[] ids = loaded.encode(text);
        IdAssertions.assertSameIds(cl100k.encodeOrdinary(text).toArray(), ids, loaded);
        assertEquals(text, loaded.decode(ids));
    }

    @Test
    void caseInsensitiveContractionsAndDigitTriples() {
        String text = "I'LL SEE YOU'RE RIGHT, it's 1234567 o'clock";
        IdAssertions.assertSameIds(cl100k.encodeOrdinary(text).toArray(), loaded.encode(text), loaded);
        assertEquals(text, loaded.decode(loaded.encode(text)));
    }
}
