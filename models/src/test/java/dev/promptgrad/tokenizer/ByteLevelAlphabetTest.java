package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** GPT-2's byte↔character table: known entries, a bijection on 256 bytes, and the text encoding. */
class ByteLevelAlphabetTest {

    @Test
    void knownEntries() {
        assertEquals('Ġ', ByteLevelAlphabet.charOf(' '));     // U+0120: byte 32 is the 33rd non-printable
        assertEquals('Ċ', ByteLevelAlphabet.charOf('\n'));    // U+010A
        assertEquals('Ā', ByteLevelAlphabet.charOf(0));       // U+0100
        assertEquals('ġ', ByteLevelAlphabet.charOf(0x7F));    // U+0121 follows the 33 control bytes and space
        assertEquals('Ń', ByteLevelAlphabet.charOf(0xAD));    // U+0143, the last remapped byte
        assertEquals('!', ByteLevelAlphabet.charOf('!'));
        assertEquals('é', ByteLevelAlphabet.charOf(0xE9));
        assertEquals(-1, ByteLevelAlphabet.byteOf('Ŕ'));      // U+0154 is past the table
        assertEquals(-1, ByteLevelAlphabet.byteOf(' '));
    }

    @Test
    void everyByteRoundTripsThroughADistinctChar() {
        Set<Character> chars = new HashSet<>();
        for (int b = 0; b < 256; b++) {
            char c = ByteLevelAlphabet.charOf(b);
            chars.add(c);
            assertEquals(b, ByteLevelAlphabet.byteOf(c));
        }
        assertEquals(256, chars.size());
    }

    @Test
    void encodesUtf8Bytes() {
        assertEquals("ĠHello", ByteLevelAlphabet.encode(" Hello"));
        assertEquals("Ã©", ByteLevelAlphabet.encode("é"));  // C3 A9
        assertEquals("ðŁĺĢ", ByteLevelAlphabet.encode("😀"));  // F0 9F 98 80
    }
}
