package dev.promptgrad.tokenizer;

import java.text.Normalizer;
import java.util.Locale;

/**
 * Hugging Face's {@code BertNormalizer}, the text rewrite before BERT's WordPiece: clean_text (drop NUL, U+FFFD and
 * control/format/unassigned characters, turn whitespace into spaces), handle_chinese_chars (spaces around each CJK
 * ideograph), strip_accents (NFD, then drop non-spacing marks; {@code null} in the file means "as lowercase") and
 * lowercase. It works on code points; it keeps no offsets and does not split words ({@link BertPreTokenizer} does).
 */
final class BertTextNormalizer {
    private final boolean cleanText;
    private final boolean handleChineseChars;
    private final boolean stripAccents;
    private final boolean lowercase;

    /** @param stripAccents the file's value; null follows {@code lowercase}, as Hugging Face does */
    BertTextNormalizer(boolean cleanText, boolean handleChineseChars, Boolean stripAccents, boolean lowercase) {
        this.cleanText = cleanText;
        this.handleChineseChars = handleChineseChars;
        this.stripAccents = stripAccents == null ? lowercase : stripAccents;
        this.lowercase = lowercase;
    }

    String normalize(String text) {
        if (cleanText) text = clean(text);
        if (handleChineseChars) text = spaceChineseChars(text);
        if (stripAccents) text = withoutAccents(text);
        if (lowercase) text = lowercase(text);
        return text;
    }

    /**
     * Code point by code point, as Hugging Face's Rust normalizer lowercases (char::to_lowercase): no context rules,
     * so a word-final Σ becomes σ where {@code String.toLowerCase} would give ς; one code point may still become two
     * (İ → i + U+0307), as in Rust.
     */
    private static String lowercase(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> out.append(new String(Character.toChars(c)).toLowerCase(Locale.ROOT)));
        return out.toString();
    }

    private static String clean(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (c == 0 || c == 0xFFFD || isControl(c)) return;
            if (isWhitespace(c)) out.append(' ');
            else out.appendCodePoint(c);
        });
        return out.toString();
    }

    private static String spaceChineseChars(String text) {
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (isChineseChar(c)) out.append(' ').appendCodePoint(c).append(' ');
            else out.appendCodePoint(c);
        });
        return out.toString();
    }

    private static String withoutAccents(String text) {
        StringBuilder out = new StringBuilder(text.length());
        Normalizer.normalize(text, Normalizer.Form.NFD).codePoints().forEach(c -> {
            if (Character.getType(c) != Character.NON_SPACING_MARK) out.appendCodePoint(c);
        });
        return out.toString();
    }

    /** Unicode's White_Space property, what Rust's {@code char::is_whitespace} tests: U+0009..U+000D, U+0085, Z*. */
    static boolean isWhitespace(int c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x85 || Character.isSpaceChar(c);
    }

    /** Unicode category C* (control, format, unassigned, private use, surrogate), except tab, newline and return. */
    static boolean isControl(int c) {
        if (c == '\t' || c == '\n' || c == '\r') return false;
        int type = Character.getType(c);
        return type == Character.CONTROL || type == Character.FORMAT || type == Character.UNASSIGNED
                || type == Character.PRIVATE_USE || type == Character.SURROGATE;
    }

    /** The CJK Unified Ideographs blocks BERT treats as one word each (not Hangul, Hiragana or Katakana). */
    static boolean isChineseChar(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }
}
