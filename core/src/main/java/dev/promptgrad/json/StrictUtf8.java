package dev.promptgrad.json;

/**
 * Decodes UTF-8 bytes to a String and rejects anything that is not well-formed UTF-8 (Unicode 15, table
 * 3-7): stray continuation bytes, truncated sequences, overlong forms, encoded surrogates and code points
 * above U+10FFFF. The JDK decoders replace such bytes silently; this reports the first one by line and
 * column. It does not look at what the text means.
 */
final class StrictUtf8 {

    private StrictUtf8() {
    }

    static String decode(byte[] bytes, String source) {
        int n = bytes.length;
        if (n >= 3 && (bytes[0] & 0xFF) == 0xEF && (bytes[1] & 0xFF) == 0xBB && (bytes[2] & 0xFF) == 0xBF) {
            throw new JsonException(source, 1, 1,
                    "the text starts with a UTF-8 byte order mark, which JSON does not allow; save it as UTF-8 without BOM");
        }
        char[] chars = new char[n];  // UTF-16 never needs more units than UTF-8 has bytes
        int length = 0;
        int i = 0;
        while (i < n) {
            int b0 = bytes[i] & 0xFF;
            if (b0 < 0x80) {
                chars[length++] = (char) b0;
                i++;
                continue;
            }
            int need;
            int lowest;    // the allowed range of the second byte, which rules out overlong forms and surrogates
            int highest;
            int codePoint;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 1; lowest = 0x80; highest = 0xBF; codePoint = b0 & 0x1F;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 2; codePoint = b0 & 0x0F;
                lowest = b0 == 0xE0 ? 0xA0 : 0x80;
                highest = b0 == 0xED ? 0x9F : 0xBF;
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 3; codePoint = b0 & 0x07;
                lowest = b0 == 0xF0 ? 0x90 : 0x80;
                highest = b0 == 0xF4 ? 0x8F : 0xBF;
            } else {
                throw invalid(bytes, i, source, String.format(
                        "byte 0x%02X at byte offset %d is not valid UTF-8 (it cannot start a character)", b0, i));
            }
            for (int k = 1; k <= need; k++) {
                if (i + k >= n) {
                    throw invalid(bytes, i, source, String.format(
                            "UTF-8 sequence starting with 0x%02X at byte offset %d is cut off by the end of the text",
                            b0, i));
                }
                int b = bytes[i + k] & 0xFF;
                int lo = k == 1 ? lowest : 0x80;
                int hi = k == 1 ? highest : 0xBF;
                if (b < lo || b > hi) {
                    throw invalid(bytes, i, source, String.format(
                            "invalid UTF-8 sequence at byte offset %d: 0x%02X cannot follow 0x%02X"
                                    + " (overlong, surrogate, out of range or truncated)", i, b, b0));
                }
                codePoint = (codePoint << 6) | (b & 0x3F);
            }
            length += Character.toChars(codePoint, chars, length);
            i += need + 1;
        }
        return new String(chars, 0, length);
    }

    /** The error at the character that starts at byte {@code offset}: line and column count code points. */
    private static JsonException invalid(byte[] bytes, int offset, String source, String detail) {
        int line = 1;
        int column = 1;
        for (int i = 0; i < offset; i++) {
            int b = bytes[i] & 0xFF;
            if (b == '\n') {
                line++;
                column = 1;
            } else if ((b & 0xC0) != 0x80) {
                column++;
            }
        }
        return new JsonException(source, line, column, detail);
    }
}
