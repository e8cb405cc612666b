package dev.promptgrad.tokenizer;

/**
 * UTF-8 bytes to text, replacing each ill-formed part with U+FFFD the way Hugging Face (Rust's
 * {@code String::from_utf8_lossy}) and Python's {@code errors="replace"} do: one U+FFFD per maximal subpart
 * of an ill-formed sequence (Unicode §3.9, table 3-7). Java's own decoder differs on encoded surrogates
 * ({@code ED A0..BF}), hence this class. Not an encoder; not streaming.
 */
public final class LossyUtf8 {
    private static final char REPLACEMENT = '\uFFFD';

    private LossyUtf8() {
    }

    /** {@code bytes[0, length)} as text. */
    public static String decode(byte[] bytes, int length) {
        StringBuilder text = new StringBuilder(length);
        int i = 0;
        while (i < length) {
            int lead = bytes[i] & 0xFF;
            if (lead < 0x80) {
                text.append((char) lead);
                i++;
                continue;
            }
            int continuations;  // bytes after the lead
            int secondLow = 0x80, secondHigh = 0xBF;  // table 3-7 narrows the second byte after E0, ED, F0, F4
            if (lead >= 0xC2 && lead <= 0xDF) {
                continuations = 1;
            } else if (lead >= 0xE0 && lead <= 0xEF) {
                continuations = 2;
                if (lead == 0xE0) secondLow = 0xA0;
                if (lead == 0xED) secondHigh = 0x9F;
            } else if (lead >= 0xF0 && lead <= 0xF4) {
                continuations = 3;
                if (lead == 0xF0) secondLow = 0x90;
                if (lead == 0xF4) secondHigh = 0x8F;
            } else {
                text.append(REPLACEMENT);  // 80..C1 and F5..FF never start a sequence
                i++;
                continue;
            }
            int codePoint = lead & (0x3F >> continuations);
            int read = 1;
            while (read <= continuations && i + read < length) {
                int b = bytes[i + read] & 0xFF;
                int low = read == 1 ? secondLow : 0x80, high = read == 1 ? secondHigh : 0xBF;
                if (b < low || b > high) break;
                codePoint = (codePoint << 6) | (b & 0x3F);
                read++;
            }
            if (read == continuations + 1) {
                text.appendCodePoint(codePoint);
            } else {
                text.append(REPLACEMENT);  // the maximal subpart bytes[i, i+read) is one error
            }
            i += read;
        }
        return text.toString();
    }

    /** All of {@code bytes} as text. */
    public static String decode(byte[] bytes) {
        return decode(bytes, bytes.length);
    }
}
