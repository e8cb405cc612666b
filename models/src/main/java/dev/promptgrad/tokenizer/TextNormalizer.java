package dev.promptgrad.tokenizer;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Hugging Face's normalizers, the text rewrites before pre-tokenization: {@link Prepend} and {@link Replace}
 * (Llama 2's "▁" handling), the Unicode normal forms, and a {@link Sequence} of them. Each variant mirrors the
 * {@code normalizer} type of the same name in {@code tokenizer.json}. Rewrites text only; no offsets are kept.
 */
sealed interface TextNormalizer {

    String normalize(String text);

    /** Puts {@code prefix} in front of non-empty text. */
    record Prepend(String prefix) implements TextNormalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /**
     * Replaces every match of {@code pattern} by {@code content} (a literal, not a group reference), within a
     * {@link MatchBudget}.
     */
    record Replace(Pattern pattern, String content) implements TextNormalizer {
        @Override
        public String normalize(String text) {
            return MatchBudget.replaceAll(pattern, text, content);
        }
    }

    /** One of NFC, NFD, NFKC, NFKD. */
    record UnicodeForm(java.text.Normalizer.Form form) implements TextNormalizer {
        @Override
        public String normalize(String text) {
            return java.text.Normalizer.normalize(text, form);
        }
    }

    /** Each step applied to the result of the step before. */
    record Sequence(List<TextNormalizer> steps) implements TextNormalizer {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public String normalize(String text) {
            for (TextNormalizer step : steps) text = step.normalize(text);
            return text;
        }
    }
}
