package dev.promptgrad.data;

import java.util.Arrays;
import java.util.List;

/**
 * Examples stacked into one right-padded batch, row-major: row b holds example b's tokens at positions
 * 0..length(b)-1, then the pad id. The attention mask is 1 on real tokens and 0 on pads; labels are
 * {@link Example#IGNORE} on pads. This is the batch as a user would hand it to a Hugging Face model; prompt rows
 * are not in it (the model prepends them). It does not truncate, shuffle or split.
 */
public final class Batch {
    private final int size;              // sequences
    private final int length;            // positions per sequence: the longest example
    private final int[] inputIds;        // (size, length)
    private final int[] attentionMask;   // (size, length) 1 = real token, 0 = pad
    private final int[] labels;          // (size, length) IGNORE at pads
    private final int[] lengths;         // (size) real tokens per sequence

    private Batch(int size, int length, int[] inputIds, int[] attentionMask, int[] labels, int[] lengths) {
        this.size = size;
        this.length = length;
        this.inputIds = inputIds;
        this.attentionMask = attentionMask;
        this.labels = labels;
        this.lengths = lengths;
    }

    /** Pads {@code examples} on the right with {@code padId} to the longest one. */
    public static Batch pad(List<Example> examples, int padId) {
        if (examples.isEmpty()) throw new IllegalArgumentException("a batch needs at least one example");
        int size = examples.size();
        int length = examples.stream().mapToInt(Example::length).max().getAsInt();
        int[] inputIds = new int[size * length];
        int[] attentionMask = new int[size * length];
        int[] labels = new int[size * length];
        int[] lengths = new int[size];
        Arrays.fill(inputIds, padId);
        Arrays.fill(labels, Example.IGNORE);
        for (int b = 0; b < size; b++) {
            Example example = examples.get(b);
            int row = b * length;
            System.arraycopy(example.inputIds(), 0, inputIds, row, example.length());
            System.arraycopy(example.labels(), 0, labels, row, example.length());
            Arrays.fill(attentionMask, row, row + example.length(), 1);
            lengths[b] = example.length();
        }
        return new Batch(size, length, inputIds, attentionMask, labels, lengths);
    }

    /** Number of sequences. */
    public int size() {
        return size;
    }

    /** Positions per sequence (the longest example's length). */
    public int length() {
        return length;
    }

    /** Token ids, (size, length) row-major, pads included. */
    public int[] inputIds() {
        return inputIds.clone();
    }

    /** 1 on real tokens, 0 on pads, (size, length) row-major. */
    public int[] attentionMask() {
        return attentionMask.clone();
    }

    /** Labels, (size, length) row-major, {@link Example#IGNORE} at pads and wherever the example ignored. */
    public int[] labels() {
        return labels.clone();
    }

    /** Real tokens in sequence {@code b}. */
    public int length(int b) {
        return lengths[b];
    }

    /** Example {@code b}'s token ids, without padding. */
    public int[] inputIds(int b) {
        return Arrays.copyOfRange(inputIds, b * length, b * length + lengths[b]);
    }

    /** Example {@code b}'s labels, without padding. */
    public int[] labels(int b) {
        return Arrays.copyOfRange(labels, b * length, b * length + lengths[b]);
    }
}
