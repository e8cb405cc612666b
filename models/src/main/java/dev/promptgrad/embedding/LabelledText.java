package dev.promptgrad.embedding;

import java.util.Objects;

/**
 * One {@code classify} example: a text and the label it belongs to ({@code {"text": …, "label": …}} in JSONL). The
 * label is a short name such as "sports"; it is compared with the text through the label text
 * ({@code --label-text}). Plain strings, not tokenized.
 */
public record LabelledText(String text, String label) {
    public LabelledText {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(label, "label");
        if (label.isBlank()) throw new IllegalArgumentException("a label must not be blank");
    }
}
