package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama2.c's tokenizer.bin for Llama 2 (shared/tokenizers/llama2) reproduces SentencePiece's ids (from Debian's
 * python3-sentencepiece, see the README), round-trips text through byte fallback, and refuses malformed files.
 */
class Llama2cTokenizerTest {
    private static Path file;
    private static Llama2cTokenizer llama2;

    @TempDir
    Path temp;

    @BeforeAll
    static void load() {
        file = SharedTokenizerFiles.path("llama2/tokenizer.bin");
        llama2 = Llama2cTokenizer.load(file);
    }

    @Test
    void headerAndSpecialIds() {
        assertEquals(32000, llama2.vocabSize());
        assertEquals(27, llama2.maxTokenLength());
        assertEquals(1, llama2.bos().getAsInt());
        assertEquals(2, llama2.eos().getAsInt());
        assertTrue(llama2.pad().isEmpty());
        assertEquals(" Hello", llama2.token(15043));
        assertEquals("<0x41>", llama2.token(3 + 0x41));
        assertEquals(-14784f, llama2.score(15043));
        assertEquals(32000, Llama2cTokenizer.load(file, 32000).vocabSize());
    }

    @Test
    void matchesSentencePieceIds() {
        assertArrayEquals(new int[]{15043, 3186}, llama2.encode("Hello world"));
        assertArrayEquals(new int[]{9038, 2501, 263, 931}, llama2.encode("Once upon a time"));
        assertArrayEquals(new int[]{1, 9038, 2501, 263, 931}, llama2.encode("Once upon a time", true));
        assertArrayEquals(new int[0], llama2.encode(""));
    }

    @Test
    void unknownCharactersFallBackToBytes() {
        // no piece holds 😀 (F0 9F 98 80), so it is the dummy-prefix space and four byte pieces 3 + byte
        assertArrayEquals(new int[]{29871, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}, llama2.encode("😀"));
        assertEquals("😀", llama2.decode(llama2.encode("😀")));
    }

    @Test
    void decodeDropsTheDummySpaceAndOptionallySpecials() {
        int[] ids = {1, 15043, 3186, 2};
        assertEquals("Hello world", llama2.decode(ids, true));
        assertEquals("\n<s>\nHello world\n</s>\n", llama2.decode(ids));
        assertEquals(" world", llama2.decode(new int[]{29871, 3186}));
        // a lone continuation byte is not UTF-8: one U+FFFD per byte, like Hugging Face's ByteFallback decoder
        assertEquals("a\uFFFD\uFFFDb", llama2.decode(new int[]{29874, 3 + 0x9F, 3 + 0x80, 29890}));
        assertThrows(IllegalArgumentException.class, () -> llama2.decode(new int[]{32000}));
    }

    @Test
    void roundTripsAsciiAndUnicode() {
        String ascii = "The quick brown fox jumps over the lazy dog.\n\tIt's 3:45 PM; x = y * 2 + {z}  ~end~";
        assertEquals(ascii, llama2.decode(llama2.encode(ascii)));
        String mixed = MixedText.generate(11, 30_000);
        assertEquals(mixed, llama2.decode(llama2.encode(mixed)));
        assertEquals(mixed, llama2.decode(llama2.encode(mixed, true), true));
    }

    @Test
    void refusesTruncatedFiles() throws IOException {
        byte[] real = Files.readAllBytes(file);
        Path cut = temp.resolve("cut.bin");
        Files.write(cut, Arrays.copyOf(real, 4 + 8 + 3));  // header, then <unk>'s score and length, then 3 of 5 bytes
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(cut));
        assertTrue(e.getMessage().contains(cut.toString()) && e.getMessage().contains("truncated at offset 12"), e.getMessage());

        Files.write(cut, Arrays.copyOf(real, real.length - 3));
        e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(cut));
        assertTrue(e.getMessage().contains(cut.toString()) && e.getMessage().contains("id 31999"), e.getMessage());

        Files.write(cut, Arrays.copyOf(real, 2));
        e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(cut));
        assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
    }

    @Test
    void vocabSizeMustMatchTheFile() {
        TokenizerFormatException more = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(file, 32001));
        assertTrue(more.getMessage().contains("id 32000") && more.getMessage().contains("expected 32001 entries"), more.getMessage());
        TokenizerFormatException fewer = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(file, 31999));
        assertTrue(fewer.getMessage().contains(file.toString()) && fewer.getMessage().contains("vocab_size"), fewer.getMessage());
    }

    @Test
    void refusesBadLengthsAndHeaders() throws IOException {
        Path bad = temp.resolve("bad.bin");
        Files.write(bad, binary(-1, "<unk>", "<s>", "</s>"));
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(bad));
        assertTrue(e.getMessage().contains("max_token_length at offset 0"), e.getMessage());

        Files.write(bad, binary(5, "<unk>", "<s>", "</s>", "toolong"));
        e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(bad));
        assertTrue(e.getMessage().contains("id 3 at offset 44") && e.getMessage().contains("byte length 7"), e.getMessage());

        ByteBuffer negative = ByteBuffer.wrap(binary(5, "<unk>", "<s>", "</s>")).order(ByteOrder.LITTLE_ENDIAN);
        negative.putInt(4 + 4, -2);
        Files.write(bad, negative.array());
        e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(bad));
        assertTrue(e.getMessage().contains(bad.toString()) && e.getMessage().contains("id 0 at offset 8 has byte length -2"), e.getMessage());

        Files.write(bad, binary(5, "<unk>", "<s>"));
        e = assertThrows(TokenizerFormatException.class, () -> Llama2cTokenizer.load(bad));
        assertTrue(e.getMessage().contains("at least ids 0..2"), e.getMessage());
    }

    /** A tokenizer.bin with max_token_length {@code header} and the pieces, each with score 0. */
    private static byte[] binary(int header, String... pieces) {
        ByteBuffer out = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(header);
        for (String piece : pieces) {
            byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
            out.putFloat(0f).putInt(bytes.length).put(bytes);
        }
        return Arrays.copyOf(out.array(), out.position());
    }
}
