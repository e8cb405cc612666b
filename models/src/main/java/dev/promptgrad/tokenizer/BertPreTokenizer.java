package dev.promptgrad.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Hugging Face's {@code BertPreTokenizer}: cuts normalized text into the words WordPiece sees, at whitespace (which
 * is dropped) and around every punctuation character (which becomes a word of its own). Punctuation is ASCII
 * punctuation ({@code $+<=>^`|~} included) or a Unicode P* category. Only the cutting; no vocabulary lookups.
 */
final class BertPreTokenizer {

    private BertPreTokenizer() {
    }

    /** The words of {@code text}, in order, none empty. */
    static List<String> split(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        text.codePoints().forEach(c -> {
            if (BertTextNormalizer.isWhitespace(c)) {
                flush(word, words);
            } else if (isPunctuation(c)) {
                flush(word, words);
                words.add(new String(Character.toChars(c)));
            } else {
                word.appendCodePoint(c);
            }
        });
        flush(word, words);
        return words;
    }

    private static void flush(StringBuilder word, List<String> words) {
        if (word.length() > 0) {
            words.add(word.toString());
            word.setLength(0);
        }
    }

    static boolean isPunctuation(int c) {
        if (c < 0x80) return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60)
                || (c >= 0x7B && c <= 0x7E);
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }
}
