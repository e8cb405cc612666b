package dev.promptgrad.train;

import java.util.Random;

/**
 * The order training examples are drawn in: an endless sequence of epochs, each a seeded shuffle of
 * 0 … n−1, read by a cursor (epoch, position). Epoch e's order is a Fisher–Yates shuffle driven by
 * {@code java.util.Random(seed ^ (0x9E3779B97F4A7C15 · (e + 1)))}, so it depends only on the seed and the
 * epoch number, and the cursor alone is the whole random state a checkpoint must keep. It does not batch.
 */
final class EpochShuffle {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private final int size;
    private final long seed;
    private int epoch;
    private int position;     // the next index into order, 0 … size
    private int[] order;      // (size) epoch's permutation

    /** A cursor at (epoch, position) over {@code size} examples. */
    EpochShuffle(int size, long seed, int epoch, int position) {
        if (size < 1) throw new IllegalArgumentException("nothing to shuffle: " + size + " examples");
        if (epoch < 0 || position < 0 || position > size) {
            throw new IllegalArgumentException("data position (epoch " + epoch + ", example " + position
                    + ") does not fit " + size + " examples");
        }
        this.size = size;
        this.seed = seed;
        this.epoch = epoch;
        this.position = position;
        this.order = order(size, seed, epoch);
    }

    /** The index of the next example, moving to the next epoch's order when this one is used up. */
    int next() {
        if (position == size) {
            epoch++;
            position = 0;
            order = order(size, seed, epoch);
        }
        return order[position++];
    }

    int epoch() {
        return epoch;
    }

    int position() {
        return position;
    }

    /** Epoch {@code epoch}'s permutation of 0 … size−1. */
    static int[] order(int size, long seed, int epoch) {
        Random random = new Random(seed ^ (GOLDEN_GAMMA * (epoch + 1L)));
        int[] order = new int[size];
        for (int i = 0; i < size; i++) order[i] = i;
        for (int i = size - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }
}
