package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Ill-formed UTF-8 becomes U+FFFD per maximal subpart; expectations from Python's bytes.decode("utf-8", "replace"). */
class LossyUtf8Test {

    private static void check(String hex, String expected) {
        assertEquals(expected, LossyUtf8.decode(HexFormat.of().parseHex(hex)), hex);
    }

    @Test
    void wellFormedTextIsUnchanged() {
        check("e282ac", "€");
        check("f09f9880", "😀");
        check("efbfbd", "\uFFFD");
    }

    @Test
    void truncatedSequenceIsOneReplacement() {
        check("f09f98", "\uFFFD");
        check("f09f9861", "\uFFFDa");
        check("61e282", "a\uFFFD");
        check("c3a9c3", "é\uFFFD");
    }

    @Test
    void encodedSurrogatesAndOverlongFormsReplaceEachByte() {
        // Java's own decoder gives one U+FFFD for "eda3bd"; Rust and Python give three
        check("eda3bd", "\uFFFD\uFFFD\uFFFD");
        check("edb080", "\uFFFD\uFFFD\uFFFD");
        check("e8baa09f3627edbd", "\u8EA0\uFFFD6'\uFFFD\uFFFD");
        check("c080", "\uFFFD\uFFFD");
        check("e0809f", "\uFFFD\uFFFD\uFFFD");
        check("f08f8080", "\uFFFD\uFFFD\uFFFD\uFFFD");
        check("f4908080", "\uFFFD\uFFFD\uFFFD\uFFFD");
        check("ff", "\uFFFD");
    }
}
