package dev.promptgrad.model;

import dev.promptgrad.ops.CrossEntropy;

import java.util.Arrays;

/**
 * A batch of token sequences as a user passes it to a causal LM: ids [size, length], an optional attention
 * mask (1 = real token, 0 = padding) and optional labels ({@value CrossEntropy#IGNORE} = not scored), all
 * row-major. It also derives what the model sees once a soft prompt of P virtual tokens is put in front
 * (PEFT's PROMPT_TUNING for CAUSAL_LM). It holds ids, not tensors.
 */
public final class TokenBatch {
    private final int size;
    private final int length;
    private final int[] ids;            // (size, length)
    private final int[] attentionMask;  // (size, length), or null: no padding
    private final int[] labels;         // (size, length), or null: logits only

    /**
     * @param attentionMask null when no sequence is padded
     * @param labels        null when only logits are wanted; else a token id or -100 per position
     */
    public TokenBatch(int size, int length, int[] ids, int[] attentionMask, int[] labels) {
        if (size < 1 || length < 1) {
            throw new IllegalArgumentException("a token batch needs at least one sequence of at least one token, got "
                    + size + " × " + length);
        }
        long cells = (long) size * length;
        check("ids", ids, cells);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0) {
                throw new IllegalArgumentException("token id " + ids[i] + " at " + where(i, length) + " is negative");
            }
        }
        if (attentionMask != null) {
            check("attention mask", attentionMask, cells);
            for (int i = 0; i < attentionMask.length; i++) {
                if (attentionMask[i] != 0 && attentionMask[i] != 1) {
                    throw new IllegalArgumentException("attention mask value " + attentionMask[i] + " at "
                            + where(i, length) + " must be 1 (real token) or 0 (padding)");
                }
            }
        }
        if (labels != null) {
            check("labels", labels, cells);
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] < 0 && labels[i] != CrossEntropy.IGNORE) {
                    throw new IllegalArgumentException("label " + labels[i] + " at " + where(i, length)
                            + " must be a token id or " + CrossEntropy.IGNORE + " (not scored)");
                }
            }
        }
        this.size = size;
        this.length = length;
        this.ids = ids.clone();
        this.attentionMask = attentionMask == null ? null : attentionMask.clone();
        this.labels = labels == null ? null : labels.clone();
    }

    /** From nested arrays (each row one sequence, all the same length); mask and labels may be null. */
    public static TokenBatch of(int[][] ids, int[][] attentionMask, int[][] labels) {
        int size = ids.length;
        int length = size == 0 ? 0 : ids[0].length;
        return new TokenBatch(size, length, flatten("ids", ids, size, length),
                attentionMask == null ? null : flatten("attention mask", attentionMask, size, length),
                labels == null ? null : flatten("labels", labels, size, length));
    }

    /** One unpadded sequence without labels. */
    public static TokenBatch of(int... ids) {
        return new TokenBatch(1, ids.length, ids, null, null);
    }

    public int size() {
        return size;
    }

    public int length() {
        return length;
    }

    /** The ids, row-major (size, length); a copy. */
    public int[] ids() {
        return ids.clone();
    }

    /** The attention mask (size, length), or null when nothing is padded; a copy. */
    public int[] attentionMask() {
        return attentionMask == null ? null : attentionMask.clone();
    }

    public boolean hasLabels() {
        return labels != null;
    }

    /** The labels (size, length), or null; a copy. */
    public int[] labels() {
        return labels == null ? null : labels.clone();
    }

    /**
     * The mask the model sees with P virtual tokens in front: (size, P + length), P ones then the user's
     * mask. Null when the user's mask is null (nothing is padded).
     */
    public int[] modelAttentionMask(int promptLength) {
        if (attentionMask == null) return null;
        return prefixed(attentionMask, promptLength, 1);
    }

    /** The labels the model sees: (size, P + length), P × -100 then the user's labels. */
    public int[] modelLabels(int promptLength) {
        if (labels == null) throw new IllegalStateException("this batch has no labels; pass labels to compute a loss");
        return prefixed(labels, promptLength, CrossEntropy.IGNORE);
    }

    /**
     * One target per logits row (size × (P + length) rows): row t of a sequence is scored against the
     * model label at t + 1, and the last row of each sequence against nothing. This is Hugging Face's shift,
     * {@code loss = cross_entropy(logits[:, :-1], labels[:, 1:])}, as one mean over every scored row.
     */
    public int[] nextTokenTargets(int promptLength) {
        int[] model = modelLabels(promptLength);
        int total = promptLength + length;
        int[] targets = new int[model.length];
        for (int b = 0; b < size; b++) {
            for (int t = 0; t < total; t++) {
                targets[b * total + t] = t + 1 < total ? model[b * total + t + 1] : CrossEntropy.IGNORE;
            }
        }
        return targets;
    }

    private int[] prefixed(int[] values, int promptLength, int fill) {
        if (promptLength < 0) throw new IllegalArgumentException("prompt length " + promptLength + " is negative");
        int total = promptLength + length;
        int[] out = new int[size * total];
        for (int b = 0; b < size; b++) {
            Arrays.fill(out, b * total, b * total + promptLength, fill);
            System.arraycopy(values, b * length, out, b * total + promptLength, length);
        }
        return out;
    }

    private static void check(String what, int[] values, long cells) {
        if (values == null) throw new IllegalArgumentException(what + " must not be null");
        if (values.length != cells) {
            throw new IllegalArgumentException(what + " has " + values.length + " entries; size × length is " + cells);
        }
    }

    private static String where(int index, int length) {
        return "sequence " + index / length + ", position " + index % length;
    }

    private static int[] flatten(String what, int[][] rows, int size, int length) {
        if (rows.length != size) {
            throw new IllegalArgumentException(what + " has " + rows.length + " rows; the ids have " + size);
        }
        int[] flat = new int[size * length];
        for (int b = 0; b < size; b++) {
            if (rows[b].length != length) {
                throw new IllegalArgumentException(what + " row " + b + " has " + rows[b].length
                        + " entries; every row must have " + length + " (pad shorter sequences and mask the pads)");
            }
            System.arraycopy(rows[b], 0, flat, b * length, length);
        }
        return flat;
    }
}
