package dev.promptgrad.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's reversible byte↔character table ({@code bytes_to_unicode} in OpenAI's encoder.py): every byte
 * becomes a visible character, so byte-level BPE vocabularies can be stored as text. Printable Latin-1 bytes
 * ({@code !..~}, {@code ¡..¬}, {@code ®..ÿ}) stand for themselves; the other 68 bytes take U+0100 onwards in
 * byte order (space → {@code Ġ}, newline → {@code Ċ}). This is only the table, not the BPE.
 */
public final class ByteLevelAlphabet {
    private static final char[] CHAR_OF_BYTE = new char[256];  // (256)
    private static final int[] BYTE_OF_CHAR = new int[512];    // (512) -1 where a char is not in the alphabet

    static {
        Arrays.fill(BYTE_OF_CHAR, -1);
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) next++;
            CHAR_OF_BYTE[b] = c;
            BYTE_OF_CHAR[c] = b;
        }
    }

    private ByteLevelAlphabet() {
    }

    /** The character that stands for byte {@code b} (0..255). */
    public static char charOf(int b) {
        return CHAR_OF_BYTE[b & 0xFF];
    }

    /** The byte that {@code c} stands for, or -1 if {@code c} is not in the alphabet. */
    public static int byteOf(char c) {
        return c < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[c] : -1;
    }

    /** {@code text}'s UTF-8 bytes, each written as its alphabet character. */
    public static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) chars[i] = CHAR_OF_BYTE[bytes[i] & 0xFF];
        return new String(chars);
    }
}
