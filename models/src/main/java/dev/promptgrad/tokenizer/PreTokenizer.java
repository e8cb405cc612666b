package dev.promptgrad.tokenizer;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Hugging Face's pre-tokenizers: how normalized text is cut into the words that BPE sees separately. Each
 * variant mirrors the {@code pre_tokenizer} type of the same name in {@code tokenizer.json}: {@link ByteLevel}
 * (GPT-2), {@link Split} by a regex (Llama 3, Qwen2), {@link Digits} (SmolLM), {@link Metaspace}
 * (SentencePiece-style) and a {@link Sequence} of them. Only the cutting; no vocabulary lookups.
 */
sealed interface PreTokenizer {

    /** Receives the pieces; {@code atTextStart} says the piece begins at offset 0 of the original text. */
    @FunctionalInterface
    interface PieceSink {
        void accept(String piece, boolean atTextStart);
    }

    /** Cuts {@code text} and hands the non-empty pieces, in order, to {@code sink}. */
    void split(String text, boolean atTextStart, PieceSink sink);

    /** GPT-2's word pattern, the one {@code ByteLevel} uses when {@code use_regex} is true. */
    String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /**
     * Compiles a {@code tokenizer.json} regex (Oniguruma syntax) for Java: {@code \s}, {@code \w} and case-insensitive
     * groups are Unicode-wide in Oniguruma, hence {@link Pattern#UNICODE_CHARACTER_CLASS}.
     */
    static Pattern compile(String regex, String where) {
        try {
            return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
        } catch (PatternSyntaxException e) {
            String shown = regex.length() <= 80 ? regex : regex.substring(0, 77) + "...";
            throw new TokenizerFormatException(where + ": the regex /" + shown + "/ (" + regex.length()
                    + " characters) does not compile in Java: " + e.getDescription(), e);
        }
    }

    /**
     * GPT-2's byte-level step: optionally a leading space, optionally the GPT-2 word pattern, then every piece's
     * UTF-8 bytes written in {@link ByteLevelAlphabet} characters.
     */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        private static final Pattern WORDS = Pattern.compile(GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);

        @Override
        public void split(String text, boolean atTextStart, PieceSink sink) {
            // HF checks only for ' ', not other whitespace
            String prefixed = addPrefixSpace && !text.startsWith(" ") ? " " + text : text;
            if (!useRegex) {
                if (!prefixed.isEmpty()) sink.accept(ByteLevelAlphabet.encode(prefixed), atTextStart);
                return;
            }
            Matcher m = WORDS.matcher(prefixed);
            int end = 0;
            while (m.find()) {
                if (m.start() > end) sink.accept(ByteLevelAlphabet.encode(prefixed.substring(end, m.start())), atTextStart && end == 0);
                if (m.end() > m.start()) sink.accept(ByteLevelAlphabet.encode(m.group()), atTextStart && m.start() == 0);
                end = m.end();
            }
            if (end < prefixed.length()) sink.accept(ByteLevelAlphabet.encode(prefixed.substring(end)), atTextStart && end == 0);
        }
    }

    /** How a {@link Split} treats the matched parts (HF's {@code SplitDelimiterBehavior}). */
    enum Behavior {
        REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS
    }

    /**
     * Cuts at the matches of {@code pattern} (run within a {@link MatchBudget}); with {@code invert}, the
     * non-matching parts count as the matches.
     */
    record Split(Pattern pattern, Behavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public void split(String text, boolean atTextStart, PieceSink sink) {
            List<int[]> segments = new ArrayList<>();  // {start, end, 1 if a match}
            int end = 0;
            for (int[] match : MatchBudget.spans(pattern, text)) {
                if (match[1] == match[0]) continue;
                if (match[0] > end) segments.add(new int[]{end, match[0], invert ? 1 : 0});
                segments.add(new int[]{match[0], match[1], invert ? 0 : 1});
                end = match[1];
            }
            if (end < text.length()) segments.add(new int[]{end, text.length(), invert ? 1 : 0});
            for (int[] piece : group(segments)) {
                if (piece[1] > piece[0]) sink.accept(text.substring(piece[0], piece[1]), atTextStart && piece[0] == 0);
            }
        }

        /** The pieces as {start, end}, following HF's {@code NormalizedString::split} for each behavior. */
        private List<int[]> group(List<int[]> segments) {
            List<int[]> pieces = new ArrayList<>();
            boolean previousMatch = false;
            switch (behavior) {
                case REMOVED -> {
                    for (int[] s : segments) if (s[2] == 0) pieces.add(new int[]{s[0], s[1]});
                }
                case ISOLATED -> {
                    for (int[] s : segments) pieces.add(new int[]{s[0], s[1]});
                }
                case MERGED_WITH_PREVIOUS -> {
                    for (int[] s : segments) {
                        boolean match = s[2] == 1;
                        if (match && !previousMatch && !pieces.isEmpty()) pieces.get(pieces.size() - 1)[1] = s[1];
                        else pieces.add(new int[]{s[0], s[1]});
                        previousMatch = match;
                    }
                }
                case MERGED_WITH_NEXT -> {
                    for (int i = segments.size() - 1; i >= 0; i--) {
                        int[] s = segments.get(i);
                        boolean match = s[2] == 1;
                        if (match && !previousMatch && !pieces.isEmpty()) pieces.get(pieces.size() - 1)[0] = s[0];
                        else pieces.add(new int[]{s[0], s[1]});
                        previousMatch = match;
                    }
                    Collections.reverse(pieces);
                }
                case CONTIGUOUS -> {
                    for (int[] s : segments) {
                        boolean match = s[2] == 1;
                        if (match == previousMatch && !pieces.isEmpty()) pieces.get(pieces.size() - 1)[1] = s[1];
                        else pieces.add(new int[]{s[0], s[1]});
                        previousMatch = match;
                    }
                }
            }
            return pieces;
        }
    }

    /** Digits apart from the rest: each digit alone, or each run of digits together. */
    record Digits(boolean individualDigits) implements PreTokenizer {
        private static final Pattern DIGIT = Pattern.compile("\\p{N}");

        @Override
        public void split(String text, boolean atTextStart, PieceSink sink) {
            new Split(DIGIT, individualDigits ? Behavior.ISOLATED : Behavior.CONTIGUOUS, false)
                    .split(text, atTextStart, sink);
        }
    }

    /** When {@link Metaspace} puts its replacement character in front of a piece. */
    enum PrependScheme {
        ALWAYS, FIRST, NEVER
    }

    /**
     * SentencePiece's whitespace handling: spaces become {@code replacement} (usually ▁), one is prepended per
     * {@code scheme}, and with {@code splitAtReplacement} each ▁ starts a new piece.
     */
    record Metaspace(char replacement, PrependScheme scheme, boolean splitAtReplacement) implements PreTokenizer {
        @Override
        public void split(String text, boolean atTextStart, PieceSink sink) {
            String replaced = text.replace(' ', replacement);
            boolean prepend = switch (scheme) {
                case ALWAYS -> true;
                case FIRST -> atTextStart;
                case NEVER -> false;
            };
            if (prepend && !replaced.isEmpty() && replaced.charAt(0) != replacement) replaced = replacement + replaced;
            if (!splitAtReplacement) {
                if (!replaced.isEmpty()) sink.accept(replaced, atTextStart);
                return;
            }
            new Split(Pattern.compile(Pattern.quote(String.valueOf(replacement))), Behavior.MERGED_WITH_NEXT, false)
                    .split(replaced, atTextStart, sink);
        }
    }

    /** Each step applied to every piece of the step before. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public void split(String text, boolean atTextStart, PieceSink sink) {
            splitFrom(0, text, atTextStart, sink);
        }

        private void splitFrom(int step, String text, boolean atTextStart, PieceSink sink) {
            if (step == steps.size()) {
                sink.accept(text, atTextStart);
                return;
            }
            steps.get(step).split(text, atTextStart, (piece, start) -> splitFrom(step + 1, piece, start, sink));
        }
    }
}
