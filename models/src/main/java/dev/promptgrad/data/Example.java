package dev.promptgrad.data;

import dev.promptgrad.ops.CrossEntropy;

import java.util.Arrays;

/**
 * One training sequence as the model sees it: token ids and, position by position, the id that position is
 * labelled with ({@link #IGNORE}, -100 as in PyTorch's cross-entropy, where no loss is taken). A label at
 * position t is the token the model should produce there, so a label equals the input id at the same position;
 * the next-token shift happens in the loss. It is not padded and carries no attention mask ({@link RightPadding} does).
 *
 * @param inputIds token ids, at least one
 * @param labels   the same length: the input id where the loss counts, {@link #IGNORE} elsewhere
 */
public record Example(int[] inputIds, int[] labels) {

    /** The label of a position that takes no loss (PyTorch's {@code ignore_index}). */
    public static final int IGNORE = CrossEntropy.IGNORE;

    public Example {
        if (inputIds.length == 0) throw new IllegalArgumentException("an example needs at least one token");
        if (labels.length != inputIds.length) {
            throw new IllegalArgumentException("an example has " + inputIds.length + " input ids but " + labels.length
                    + " labels; they must be the same length");
        }
        inputIds = inputIds.clone();
        labels = labels.clone();
    }

    /** An example whose loss counts at every position (labels = input ids). */
    public static Example everyToken(int[] inputIds) {
        return new Example(inputIds, inputIds);
    }

    public int length() {
        return inputIds.length;
    }

    /** How many positions carry a label other than {@link #IGNORE}. */
    public int labelledPositions() {
        int count = 0;
        for (int label : labels) if (label != IGNORE) count++;
        return count;
    }

    @Override
    public int[] inputIds() {
        return inputIds.clone();
    }

    @Override
    public int[] labels() {
        return labels.clone();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Example that && Arrays.equals(inputIds, that.inputIds) && Arrays.equals(labels, that.labels);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inputIds) + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "Example[inputIds=" + Arrays.toString(inputIds) + ", labels=" + Arrays.toString(labels) + "]";
    }
}
