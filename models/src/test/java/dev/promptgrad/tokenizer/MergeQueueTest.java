package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The heap-based merge loop against llama2.c's rescanning loop, on random words and random merge rules. */
class MergeQueueTest {

    /** run.c's loop: rescan, merge the best pair (leftmost on ties), repeat. */
    private static int[] rescanning(int[] symbols, MergeQueue.PairRule rule) {
        List<Integer> ids = new ArrayList<>();
        for (int s : symbols) ids.add(s);
        while (true) {
            long best = Long.MAX_VALUE;
            int bestAt = -1;
            for (int i = 0; i + 1 < ids.size(); i++) {
                long found = rule.lookup(ids.get(i), ids.get(i + 1));
                if (found >= 0 && (found >>> 32) < (best >>> 32)) {
                    best = found;
                    bestAt = i;
                }
            }
            if (bestAt < 0) break;
            ids.set(bestAt, (int) best);
            ids.remove(bestAt + 1);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void agreesWithRescanningOnRandomRules() {
        Random random = new Random(7);
        for (int trial = 0; trial < 300; trial++) {
            int alphabet = 2 + random.nextInt(4);
            Map<Long, Long> rules = new HashMap<>();
            int nextId = alphabet;
            for (int r = 0; r < 30; r++) {
                int left = random.nextInt(nextId), right = random.nextInt(nextId);
                // few distinct priorities, so ties between different pairs are common (llama2.c scores tie often)
                rules.putIfAbsent(((long) left << 32) | right, MergeQueue.merge(random.nextInt(6), nextId++));
            }
            MergeQueue.PairRule rule = (l, r) -> rules.getOrDefault(((long) l << 32) | r, -1L);
            int[] word = new int[random.nextInt(40)];
            for (int i = 0; i < word.length; i++) word[i] = random.nextInt(alphabet);
            assertArrayEquals(rescanning(word, rule), MergeQueue.mergeAll(word, rule), "trial " + trial);
        }
    }

    @Test
    void mergesLeftmostFirstOnRepeats() {
        // "a a a" with a+a → b: the left pair merges, leaving "b a"
        MergeQueue.PairRule rule = (l, r) -> l == 0 && r == 0 ? MergeQueue.merge(0, 1) : -1;
        assertArrayEquals(new int[]{1, 0}, MergeQueue.mergeAll(new int[]{0, 0, 0}, rule));
        assertArrayEquals(new int[]{1, 1}, MergeQueue.mergeAll(new int[]{0, 0, 0, 0}, rule));
        assertArrayEquals(new int[]{}, MergeQueue.mergeAll(new int[]{}, rule));
    }
}
