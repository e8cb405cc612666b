package dev.promptgrad.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs a regex that came from a tokenizer file with a bound on its work. java.util.regex backtracks, so a crafted
 * pattern such as {@code (a|a)*b} can take exponential time on a short text, and a repeated group recurses once per
 * repetition. The text is handed to the matcher through a view that counts the characters it reads; a match that
 * reads more than {@value #READS_PER_CHARACTER} per character of text (plus {@value #BASE_READS}), or that overflows
 * the stack, stops with {@link Exceeded}. Real tokenizer patterns read a few characters per character. It is not a
 * regex engine and does not change what matches.
 */
final class MatchBudget {
    static final long READS_PER_CHARACTER = 1_000;
    static final long BASE_READS = 1_000_000;

    private MatchBudget() {
    }

    /** A pattern that went over its budget; {@link HuggingFaceTokenizer} names the file it came from. */
    static final class Exceeded extends RuntimeException {
        Exceeded(String message) {
            super(message);
        }
    }

    /** The [start, end) spans of the matches of {@code pattern} in {@code text}, empty matches included, in order. */
    static List<int[]> spans(Pattern pattern, String text) {
        Matcher m = pattern.matcher(new CountedText(text, pattern));
        List<int[]> spans = new ArrayList<>();
        try {
            while (m.find()) spans.add(new int[]{m.start(), m.end()});
        } catch (StackOverflowError deep) {
            throw tooDeep(pattern, text);
        }
        return spans;
    }

    /** {@code text} with every match of {@code pattern} replaced by {@code literal}. */
    static String replaceAll(Pattern pattern, String text, String literal) {
        try {
            return pattern.matcher(new CountedText(text, pattern)).replaceAll(Matcher.quoteReplacement(literal));
        } catch (StackOverflowError deep) {
            throw tooDeep(pattern, text);
        }
    }

    private static Exceeded tooDeep(Pattern pattern, String text) {
        return new Exceeded("the regex /" + shown(pattern) + "/ recursed deeper than the stack allows on a text of "
                + text.length() + " characters (a repeated group, once per repetition); this tokenizer cannot encode"
                + " such a text");
    }

    private static String shown(Pattern pattern) {
        String p = pattern.pattern();
        return p.length() <= 80 ? p : p.substring(0, 77) + "...";
    }

    /** The text as the matcher sees it: every {@link #charAt} counts against the budget. */
    private static final class CountedText implements CharSequence {
        private final String text;
        private final Pattern pattern;
        private final long budget;
        private long reads;

        CountedText(String text, Pattern pattern) {
            this.text = text;
            this.pattern = pattern;
            this.budget = BASE_READS + READS_PER_CHARACTER * text.length();
        }

        @Override
        public char charAt(int index) {
            if (++reads > budget) {
                throw new Exceeded("the regex /" + shown(pattern) + "/ read more than " + budget + " characters"
                        + " matching a text of " + text.length() + " (catastrophic backtracking); this tokenizer's"
                        + " pattern cannot be used on such a text");
            }
            return text.charAt(index);
        }

        @Override
        public int length() {
            return text.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return text.substring(start, end);
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
