package dev.promptgrad.tokenizer;

import java.util.Arrays;

/**
 * The BPE merge loop shared by the tokenizers: repeatedly merge the adjacent pair with the best priority
 * (lowest number; ties go to the leftmost pair) until no adjacent pair can merge. A heap of candidate pairs
 * keyed by (priority, position) makes a word of n symbols cost O(n log n) instead of the O(n²) of rescanning;
 * entries made stale by a neighbouring merge are recognised when popped and dropped. What may merge, and
 * into what, is the caller's {@link PairRule}: merge ranks for Hugging Face BPE, piece scores for llama2.c.
 */
final class MergeQueue {

    /** Which pairs merge. */
    @FunctionalInterface
    interface PairRule {
        /** {@link #merge(int, int)} of what {@code left} followed by {@code right} become, or -1 if they do not merge. */
        long lookup(int left, int right);
    }

    private MergeQueue() {
    }

    /** A {@link PairRule} answer: the pair merges into {@code mergedId} with {@code priority} (lower goes first). */
    static long merge(int priority, int mergedId) {
        return ((long) priority << 32) | (mergedId & 0xFFFFFFFFL);
    }

    /** {@code symbols} after every possible merge, in order. */
    static int[] mergeAll(int[] symbols, PairRule rule) {
        int n = symbols.length;
        if (n < 2) return symbols.clone();
        int[] id = symbols.clone();  // (n) -1 once a symbol was merged into its left neighbour
        int[] next = new int[n];     // (n) index of the next live symbol, n at the end
        int[] prev = new int[n];     // (n) index of the previous live symbol, -1 at the start
        for (int i = 0; i < n; i++) {
            next[i] = i + 1;
            prev[i] = i - 1;
        }
        long[] heap = new long[Math.max(16, n)];  // (priority << 32 | position), a binary min-heap
        int size = 0;
        for (int i = 0; i + 1 < n; i++) {
            long found = rule.lookup(id[i], id[i + 1]);
            if (found >= 0) {
                heap = grow(heap, size);
                size = push(heap, size, (found & 0xFFFFFFFF00000000L) | i);
            }
        }
        while (size > 0) {
            long top = heap[0];
            size = popTop(heap, size);
            int pos = (int) top;
            int right = next[pos];
            if (id[pos] < 0 || right >= n) continue;
            long found = rule.lookup(id[pos], id[right]);
            // an entry is current when the pair now at pos has the entry's priority: then that pair's own
            // entry has the same key, and merging now is what popping that entry would do
            if (found < 0 || (found >>> 32) != (top >>> 32)) continue;
            id[pos] = (int) found;
            id[right] = -1;
            next[pos] = next[right];
            if (next[pos] < n) prev[next[pos]] = pos;
            if (prev[pos] >= 0) {
                long left = rule.lookup(id[prev[pos]], id[pos]);
                if (left >= 0) {
                    heap = grow(heap, size);
                    size = push(heap, size, (left & 0xFFFFFFFF00000000L) | prev[pos]);
                }
            }
            if (next[pos] < n) {
                long after = rule.lookup(id[pos], id[next[pos]]);
                if (after >= 0) {
                    heap = grow(heap, size);
                    size = push(heap, size, (after & 0xFFFFFFFF00000000L) | pos);
                }
            }
        }
        int count = 0;
        for (int i = 0; i < n; i = next[i]) count++;
        int[] merged = new int[count];
        int k = 0;
        for (int i = 0; i < n; i = next[i]) merged[k++] = id[i];
        return merged;
    }

    private static long[] grow(long[] heap, int size) {
        return size < heap.length ? heap : Arrays.copyOf(heap, heap.length * 2);
    }

    private static int push(long[] heap, int size, long key) {
        int i = size;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= key) break;
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = key;
        return size + 1;
    }

    private static int popTop(long[] heap, int size) {
        int last = size - 1;
        long key = heap[last];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= last) break;
            if (child + 1 < last && heap[child + 1] < heap[child]) child++;
            if (heap[child] >= key) break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
        return last;
    }
}
