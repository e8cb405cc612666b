package dev.promptgrad.data;

import dev.promptgrad.model.TokenBatch;

import java.util.Arrays;
import java.util.List;

/**
 * Stacks examples into one {@link TokenBatch}, padded on the right to the longest: row b holds example b's tokens,
 * then the pad id; the attention mask is 1 on real tokens and 0 on pads; labels are {@link Example#IGNORE} on pads.
 * This is the batch a user would hand a Hugging Face model (the soft prompt is not in it: the model puts it in
 * front). It does not truncate, shuffle or split.
 */
public final class RightPadding {

    private RightPadding() {
    }

    /** {@code examples} padded with {@code padId} to the longest one. */
    public static TokenBatch batch(List<Example> examples, int padId) {
        if (examples.isEmpty()) throw new IllegalArgumentException("a batch needs at least one example");
        int size = examples.size();
        int length = examples.stream().mapToInt(Example::length).max().getAsInt();
        int[] ids = new int[size * length];              // (size, length)
        int[] attentionMask = new int[size * length];    // (size, length) 1 = real token, 0 = pad
        int[] labels = new int[size * length];           // (size, length) IGNORE at pads
        Arrays.fill(ids, padId);
        Arrays.fill(labels, Example.IGNORE);
        for (int b = 0; b < size; b++) {
            Example example = examples.get(b);
            int row = b * length;
            System.arraycopy(example.inputIds(), 0, ids, row, example.length());
            System.arraycopy(example.labels(), 0, labels, row, example.length());
            Arrays.fill(attentionMask, row, row + example.length(), 1);
        }
        return new TokenBatch(size, length, ids, attentionMask, labels);
    }
}
