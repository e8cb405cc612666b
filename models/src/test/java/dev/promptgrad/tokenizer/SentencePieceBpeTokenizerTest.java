package dev.promptgrad.tokenizer;

import dev.promptgrad.testing.ProtobufWriter;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.promptgrad.tokenizer.IdAssertions.assertSameIds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Llama 2's SentencePiece tokenizer.model (shared/tokenizers/llama2) against SentencePiece itself: every expected id
 * list below was printed by Debian's python3-sentencepiece 0.1.97 ({@code SentencePieceProcessor(model_file=…)
 * .encode(text)}, no BOS), for the real file, for the real file with a NormalizerSpec field appended (protobuf merges
 * it into the file's own), and for a small model written here byte by byte. Also: the same ids as llama2.c's
 * tokenizer.bin of the same vocabulary, round trips, and SentencePiece's decoding rules.
 */
class SentencePieceBpeTokenizerTest {
    private static Path file;
    private static byte[] bytes;
    private static SentencePieceBpeTokenizer llama2;

    @BeforeAll
    static void load() throws IOException {
        file = SharedFiles.find("tokenizers/llama2/tokenizer.model");
        bytes = Files.readAllBytes(file);
        llama2 = SentencePieceBpeTokenizer.load(file);
    }

    /** Text → SentencePiece's ids for Llama 2's tokenizer.model as it is (add_dummy_prefix, spaces kept). */
    private static final Map<String, int[]> LLAMA2 = new LinkedHashMap<>();
    static {
        LLAMA2.put("Hello world", new int[]{15043, 3186});
        LLAMA2.put("Once upon a time", new int[]{9038, 2501, 263, 931});
        LLAMA2.put("", new int[0]);
        LLAMA2.put(" ", new int[]{259});
        LLAMA2.put("  Hello   world  ", new int[]{259, 15043, 259, 3186, 259});
        LLAMA2.put(" leading", new int[]{29871, 8236});
        LLAMA2.put("trailing ", new int[]{25053, 29871});
        LLAMA2.put("line one\nline two\n\n", new int[]{1196, 697, 13, 1220, 1023, 13, 13});
        LLAMA2.put("\ttab\tand  two  spaces", new int[]{29871, 12, 3891, 12, 392, 29871, 1023, 29871, 8162});
        LLAMA2.put("12345 and 3.14159 or 1,000,000", new int[]{29871, 29896, 29906, 29941, 29946, 29945, 322, 29871,
            29941, 29889, 29896, 29946, 29896, 29945, 29929, 470, 29871, 29896, 29892, 29900, 29900, 29900, 29892, 29900,
            29900, 29900});
        LLAMA2.put("😀", new int[]{29871, 243, 162, 155, 131});
        LLAMA2.put("I 👍🏽 this 🇫🇷!", new int[]{306, 29871, 243, 162, 148, 144, 243, 162, 146, 192, 445, 29871, 243,
            162, 138, 174, 243, 162, 138, 186, 29991});
        LLAMA2.put("日本語のテキスト", new int[]{29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279});
        LLAMA2.put("中文和한국어 mixed with English", new int[]{29871, 30275, 30333, 30503, 30877, 31293, 31129, 12849,
            411, 4223});
        LLAMA2.put("Ünïcödé façade naïve", new int[]{7189, 29876, 30085, 29883, 9289, 29948, 2258, 30019, 1943, 1055,
            30085, 345});
        LLAMA2.put("\u0000\u0007", new int[]{29871, 3, 10});
        LLAMA2.put("<s> is not BOS </s>", new int[]{529, 29879, 29958, 338, 451, 350, 3267, 1533, 29879, 29958});
        LLAMA2.put("it's — “quoted” …", new int[]{372, 29915, 29879, 813, 1346, 339, 5715, 30024, 16088});
    }

    @Test
    void matchesSentencePieceOnLlama2() {
        for (var entry : LLAMA2.entrySet()) {
            assertSameIds(entry.getValue(), llama2.encode(entry.getKey()), llama2);
        }
        assertArrayEquals(new int[]{1, 9038, 2501, 263, 931}, llama2.encode("Once upon a time", true));
        // "▁" in the text is a space to SentencePiece
        assertArrayEquals(new int[]{15043, 29871, 3186}, llama2.encode("Hello▁▁world"));
    }

    @Test
    void vocabularyAndSpecialIds() {
        assertEquals(32000, llama2.vocabSize());
        assertEquals(0, llama2.unk());
        assertEquals(1, llama2.bos().getAsInt());
        assertEquals(2, llama2.eos().getAsInt());
        assertTrue(llama2.pad().isEmpty());
        assertEquals(Set.of(0, 1, 2), llama2.specialTokens());
        assertTrue(llama2.byteFallback());
        assertEquals("<unk>", llama2.token(0));
        assertEquals("<s>", llama2.token(1));
        assertEquals("<0x41>", llama2.token(3 + 0x41));
        assertEquals("▁Hello", llama2.token(15043));
        assertEquals(-14784f, llama2.score(15043));
        assertEquals(file.toString(), llama2.name());
        assertThrows(IllegalArgumentException.class, () -> llama2.token(32000));
    }

    @Test
    void tokenizerLoadReadsDotModelFiles() {
        Tokenizer loaded = Tokenizer.load(file);
        assertInstanceOf(SentencePieceBpeTokenizer.class, loaded);
        assertArrayEquals(new int[]{15043, 3186}, loaded.encode("Hello world"));
    }

    @Test
    void sameIdsAsLlama2cTokenizerBinOfTheSameVocabulary() {
        Llama2cTokenizer bin = Llama2cTokenizer.load(SharedFiles.find("tokenizers/llama2/tokenizer.bin"));
        for (int id = 3; id < bin.vocabSize(); id++) {
            assertEquals(bin.token(id), llama2.token(id).replace('▁', ' '), "piece " + id);
            assertEquals(bin.score(id), llama2.score(id), "score of piece " + id);
        }
        List<String> corpus = List.of("", " ", "a", "The quick brown fox jumps over the lazy dog.",
                "    indented code();\n\t\treturn x;\n", "Ⅻ ℃ ﬁ ｶﾀｶﾅ", "🏳️‍🌈 🧑🏿‍💻", "\r\n\r\n", "x  y   z    ",
                "https://example.com/path?q=1&r=2#frag", "Ελληνικά русский עברית العربية हिन्दी ไทย");
        for (String text : corpus) assertSameIds(bin.encode(text), llama2.encode(text), llama2);
        for (long seed = 1; seed <= 3; seed++) {
            String mixed = MixedText.generate(seed, 20_000);
            assertSameIds(bin.encode(mixed), llama2.encode(mixed), llama2);
        }
    }

    @Test
    void decodeInvertsEncode() {
        for (String text : LLAMA2.keySet()) {
            assertEquals(text, llama2.decode(llama2.encode(text)), text);
            assertEquals(text, llama2.decode(llama2.encode(text, true), true), text);
        }
        String mixed = MixedText.generate(7, 30_000);
        assertEquals(mixed, llama2.decode(llama2.encode(mixed)));
    }

    @Test
    void decodesAsSentencePieceDoes() {
        // expected texts: SentencePieceProcessor.decode(ids) from python3-sentencepiece
        assertEquals(" world", llama2.decode(new int[]{29871, 3186}), "only one dummy-prefix ▁ goes");
        assertEquals(" Hello", llama2.decode(new int[]{1, 29871, 15043}, true));
        assertEquals("  Hello", llama2.decode(new int[]{35, 15043}), "a byte piece is text: the next ▁ stays");
        assertEquals("  Hello", llama2.decode(new int[]{2, 1, 259, 15043}, true));
        assertEquals("日\uFFFD", llama2.decode(new int[]{3 + 0xE6, 3 + 0x97, 3 + 0xA5, 3 + 0x9F}));
        assertEquals("\uFFFD日", llama2.decode(new int[]{3 + 0x9F, 3 + 0xE6, 3 + 0x97, 3 + 0xA5}));
        assertEquals("\uFFFD\uFFFD\uFFFD", llama2.decode(new int[]{3 + 0xED, 3 + 0xA0, 3 + 0x80}), "a surrogate");
        assertEquals("\uFFFD\uFFFDa", llama2.decode(new int[]{3 + 0xE6, 3 + 0x97, 29874}), "a cut character");
        assertEquals("▁ Hello", llama2.decode(new int[]{3 + 0xE2, 3 + 0x96, 3 + 0x81, 15043}));
        // special pieces: their text, unless skipped (SentencePiece shows nothing for <s>, " ⁇ " for <unk>)
        assertEquals("<s>Hello world</s>", llama2.decode(new int[]{1, 15043, 3186, 2}));
        assertEquals("Hello world", llama2.decode(new int[]{1, 15043, 3186, 2}, true));
        assertEquals("<unk> Hello", llama2.decode(new int[]{0, 15043}));
        assertEquals(" Hello", llama2.decode(new int[]{0, 15043}, true));
        assertThrows(IllegalArgumentException.class, () -> llama2.decode(new int[]{-1}));
    }

    /** Llama 2's file followed by one more NormalizerSpec, which protobuf merges into the file's own. */
    private static SentencePieceBpeTokenizer llama2With(ProtobufWriter normalizerFields, String name) {
        byte[] extra = new ProtobufWriter().message(3, normalizerFields).bytes();
        byte[] merged = Arrays.copyOf(bytes, bytes.length + extra.length);
        System.arraycopy(extra, 0, merged, bytes.length, extra.length);
        return SentencePieceModelReader.parse(merged, name);
    }

    @Test
    void removeExtraWhitespacesAsSentencePiece() {
        SentencePieceBpeTokenizer collapsing = llama2With(new ProtobufWriter().intField(4, 1), "llama2-collapsing.model");
        assertArrayEquals(new int[0], collapsing.encode("  "));
        assertArrayEquals(new int[]{15043, 3186}, collapsing.encode("  Hello   world  "));
        assertArrayEquals(new int[]{8236}, collapsing.encode(" leading"));
        assertArrayEquals(new int[]{25053}, collapsing.encode("trailing "));
        assertArrayEquals(new int[]{29871, 12, 3891, 12, 392, 1023, 8162}, collapsing.encode("\ttab\tand  two  spaces"));
        assertArrayEquals(new int[]{263, 29871, 289}, collapsing.encode("a ▁b"), "▁ is no space to collapse");
        assertArrayEquals(new int[]{263}, collapsing.encode("a ▁ "), "but a trailing ▁ goes");
        assertEquals("world", collapsing.decode(new int[]{29871, 3186}), "every leading ▁ goes");
    }

    @Test
    void withoutDummyPrefixAsSentencePiece() {
        SentencePieceBpeTokenizer bare = llama2With(new ProtobufWriter().intField(3, 0), "llama2-bare.model");
        assertArrayEquals(new int[]{10994, 3186}, bare.encode("Hello world"));
        assertArrayEquals(new int[]{26222, 2501, 263, 931}, bare.encode("Once upon a time"));
        assertArrayEquals(new int[]{29871, 15043, 259, 3186, 259}, bare.encode("  Hello   world  "));
        assertArrayEquals(new int[]{3018, 6504, 29871}, bare.encode("trailing "));
        assertArrayEquals(new int[]{243, 162, 155, 131}, bare.encode("😀"));
        assertArrayEquals(new int[]{3, 10}, bare.encode("\u0000\u0007"));
        assertEquals("  world", bare.decode(new int[]{29871, 3186}), "no dummy prefix to drop");
        assertEquals("Hello world", bare.decode(bare.encode("Hello world")));
    }

    @Test
    void withoutEscapingSpacesAsSentencePiece() {
        SentencePieceBpeTokenizer raw = llama2With(new ProtobufWriter().intField(5, 0), "llama2-raw-spaces.model");
        // ' ' has no piece, so the dummy prefix and every space are byte pieces <0x20> (35)
        assertArrayEquals(new int[]{35, 10994, 35, 11526}, raw.encode("Hello world"));
        assertArrayEquals(new int[]{35, 15043}, raw.encode("▁Hello"));
    }

    /**
     * A small BPE model without byte fallback, with SentencePiece's default normalizer flags (remove_extra_whitespaces
     * on), two pieces of equal score and a user-defined piece; the same bytes as sentencepiece_model_pb2 serializes.
     */
    private static byte[] smallModel() {
        Object[][] pieces = {{"<unk>", 0f, 2}, {"<s>", 0f, 3}, {"</s>", 0f, 3}, {"▁a", -1f, 1}, {"ab", -2f, 1},
            {"▁ab", -3f, 1}, {"bc", -4f, 1}, {"ca", -4f, 1}, {"▁", -5f, 1}, {"a", -6f, 1}, {"b", -7f, 1}, {"c", -8f, 1},
            {"<sep>", 0f, 4}};
        ProtobufWriter model = new ProtobufWriter();
        for (Object[] piece : pieces) {
            model.message(1, new ProtobufWriter().string(1, (String) piece[0]).fixed32(2, (Float) piece[1])
                    .intField(3, (Integer) piece[2]));
        }
        model.message(2, new ProtobufWriter().intField(3, 2).intField(4, pieces.length));
        return model.message(3, new ProtobufWriter().string(1, "identity")).bytes();
    }

    @Test
    void smallModelMatchesSentencePiece() {
        SentencePieceBpeTokenizer small = SentencePieceModelReader.parse(smallModel(), "small.model");
        assertEquals(13, small.vocabSize());
        assertFalse(small.byteFallback());
        assertArrayEquals(new int[]{5, 8, 11}, small.encode("ab c"));
        assertArrayEquals(new int[]{3, 8, 10}, small.encode("  a   b  "));
        assertArrayEquals(new int[]{8, 6, 9}, small.encode("bca"), "bc and ca score alike: the left pair merges");
        assertArrayEquals(new int[]{8, 11, 4}, small.encode("cab"));
        assertArrayEquals(new int[]{8, 0, 5}, small.encode("xyz ab"), "a run of unknown characters is one <unk>");
        assertArrayEquals(new int[]{5, 0, 11}, small.encode("abxyc"));
        assertArrayEquals(new int[]{8, 0, 9}, small.encode("ééa"));
        assertArrayEquals(new int[]{3, 12, 10}, small.encode("a<sep>b"), "a user-defined piece never merges");
        assertArrayEquals(new int[]{8, 12, 12}, small.encode("<sep><sep>"));
        assertArrayEquals(new int[0], small.encode(""));
        assertEquals("ab c", small.decode(small.encode("ab c")));
        assertEquals("<unk> a<unk><unk><sep>ab", small.decode(new int[]{0, 3, 0, 0, 12, 4}));
        assertEquals(" a<sep>ab", small.decode(new int[]{0, 3, 0, 0, 12, 4}, true));
    }

    @Test
    void userDefinedPiecesMatchLongestFirstAndStayWhole() {
        // Llama 2 plus user-defined "rld", "<b>" and "<bb>" (ids 32000..32002), appended as three more pieces
        ProtobufWriter extra = new ProtobufWriter();
        for (String piece : List.of("rld", "<b>", "<bb>")) {
            extra.message(1, new ProtobufWriter().string(1, piece).fixed32(2, 0f).intField(3, 4));
        }
        byte[] tail = extra.bytes();
        byte[] merged = Arrays.copyOf(bytes, bytes.length + tail.length);
        System.arraycopy(tail, 0, merged, bytes.length, tail.length);
        SentencePieceBpeTokenizer user = SentencePieceModelReader.parse(merged, "llama2-user.model");
        assertArrayEquals(new int[]{15043, 8879, 32000}, user.encode("Hello world"), "▁wo + rld would be ▁world");
        assertArrayEquals(new int[]{29871, 32001, 29916, 32002, 29966, 1327, 29890, 29958}, user.encode("<b>x<bb><bbb>"));
        assertArrayEquals(new int[]{29871, 32002, 29890, 29958}, user.encode("<bb>b>"));
        assertArrayEquals(new int[]{259, 32001, 29871}, user.encode(" <b> "));
        assertEquals("Hello world<bb>", user.decode(user.encode("Hello world<bb>")));
    }
}
