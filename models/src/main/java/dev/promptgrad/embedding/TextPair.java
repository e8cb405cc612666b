package dev.promptgrad.embedding;

import java.util.Objects;

/**
 * One {@code contrastive} example: a query and a text that should embed close to it
 * ({@code {"query": …, "positive": …}} in JSONL); the other pairs' positives in a batch are its negatives. Plain
 * strings, not tokenized.
 */
public record TextPair(String query, String positive) {
    public TextPair {
        Objects.requireNonNull(query, "query");
        Objects.requireNonNull(positive, "positive");
    }
}
