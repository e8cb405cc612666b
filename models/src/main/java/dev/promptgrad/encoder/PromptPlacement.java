package dev.promptgrad.encoder;

import java.util.Locale;

/**
 * Where a soft prompt's P rows go in an encoder's input. In both, the prompt rows attend and are attended to like
 * tokens, get token type 0, and are left out of pooling; positions count along the sequence from 0, so the text
 * is shifted by P position ids and P + T must not exceed {@code max_position_embeddings}. Which one trains better
 * on the demo task is measured in docs/encoders.md.
 */
public enum PromptPlacement {
    /**
     * {@code prompt [CLS] text [SEP]}: PEFT's prompt tuning on a BERT model (the prompt is concatenated in front
     * of the input embeddings and position ids default to 0 … P+T−1). Prompt rows take positions 0 … P−1, [CLS]
     * takes P.
     */
    BEFORE_CLS,
    /** {@code [CLS] prompt text [SEP]}: [CLS] keeps position 0, the prompt takes 1 … P, the text follows at P+1. */
    AFTER_CLS;

    /** The command line's spelling: {@code before-cls}, {@code after-cls}. */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Reads {@link #cliName()}'s spelling (or the constant's name). */
    public static PromptPlacement parse(String name) {
        for (PromptPlacement placement : values()) {
            if (placement.cliName().equals(name) || placement.name().equals(name)) return placement;
        }
        throw new IllegalArgumentException("placement '" + name + "' is not before-cls or after-cls");
    }
}
