package dev.promptgrad.encoder;

import java.util.Arrays;
import java.util.List;

/**
 * A right-padded batch of token id sequences for an encoder: ids, attention mask (1 = token, 0 = padding) and token
 * type ids, each [batch, length] row-major. Every row starts with a real token (BERT's [CLS]). Holds ints only;
 * tokenizing is {@link Encoder#batch}'s job.
 */
public record EncoderBatch(int batch, int length, int[] ids, int[] mask, int[] tokenTypes) {

    public EncoderBatch {
        if (batch < 1 || length < 1) {
            throw new IllegalArgumentException("a batch needs at least one row and one column");
        }
        int n = Math.multiplyExact(batch, length);
        if (ids.length != n || mask.length != n || tokenTypes.length != n) {
            throw new IllegalArgumentException("ids, mask and token types must each hold batch · length = " + n
                    + " values (got " + ids.length + ", " + mask.length + ", " + tokenTypes.length + ")");
        }
        for (int i = 0; i < n; i++) {
            if (mask[i] != 0 && mask[i] != 1) {
                throw new IllegalArgumentException("mask value " + mask[i] + " at row " + i / length + ", column "
                        + i % length + " must be 0 or 1");
            }
        }
        for (int b = 0; b < batch; b++) {
            if (mask[b * length] != 1) {
                throw new IllegalArgumentException("row " + b + " starts with padding; rows must start with a real"
                        + " token ([CLS]) and be padded on the right");
            }
        }
        ids = ids.clone();
        mask = mask.clone();
        tokenTypes = tokenTypes.clone();
    }

    /** Pads {@code sequences} on the right with {@code padId} to the longest; token types all 0. */
    public static EncoderBatch of(List<int[]> sequences, int padId) {
        if (sequences.isEmpty()) throw new IllegalArgumentException("no sequences to batch");
        int length = sequences.stream().mapToInt(s -> s.length).max().orElse(0);
        if (length == 0) throw new IllegalArgumentException("every sequence is empty");
        int[] ids = new int[sequences.size() * length];
        int[] mask = new int[ids.length];
        Arrays.fill(ids, padId);
        for (int b = 0; b < sequences.size(); b++) {
            int[] sequence = sequences.get(b);
            System.arraycopy(sequence, 0, ids, b * length, sequence.length);
            Arrays.fill(mask, b * length, b * length + sequence.length, 1);
        }
        return new EncoderBatch(sequences.size(), length, ids, mask, new int[ids.length]);
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public int[] mask() {
        return mask.clone();
    }

    @Override
    public int[] tokenTypes() {
        return tokenTypes.clone();
    }

    /** The number of real tokens in row {@code b}. */
    public int tokens(int b) {
        int count = 0;
        for (int t = 0; t < length; t++) count += mask[b * length + t];
        return count;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof EncoderBatch o && batch == o.batch && length == o.length && Arrays.equals(ids, o.ids)
                && Arrays.equals(mask, o.mask) && Arrays.equals(tokenTypes, o.tokenTypes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids) * 31 + Arrays.hashCode(mask);
    }

    @Override
    public String toString() {
        return "EncoderBatch[" + batch + " × " + length + "]";
    }
}
