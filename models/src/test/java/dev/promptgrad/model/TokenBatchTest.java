package dev.promptgrad.model;

import org.junit.jupiter.api.Test;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the model sees of a user's batch once P virtual tokens go in front, and the batch's checks. */
class TokenBatchTest {

    @Test
    void promptPrefixesMaskAndLabelsAndTargetsAreShifted() {
        TokenBatch batch = TokenBatch.of(new int[][] {{7, 8, 9}, {4, 5, 0}}, new int[][] {{1, 1, 1}, {1, 1, 0}},
                new int[][] {{-100, 8, 9}, {-100, 5, -100}});
        assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, batch.modelAttentionMask(2));
        assertArrayEquals(new int[] {-100, -100, -100, 8, 9, -100, -100, -100, 5, -100}, batch.modelLabels(2));
        // row t is scored against label t + 1; the last row of each sequence against nothing
        assertArrayEquals(new int[] {-100, -100, 8, 9, -100, -100, -100, 5, -100, -100}, batch.nextTokenTargets(2));
        assertArrayEquals(new int[] {8, 9, -100, 5, -100, -100}, batch.nextTokenTargets(0));
    }

    @Test
    void noMaskMeansNoPadding() {
        TokenBatch batch = TokenBatch.of(3, 4);
        assertNull(batch.modelAttentionMask(5));
        assertEquals(1, batch.size());
        assertEquals(2, batch.length());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> batch.modelLabels(1));
        assertMentions(e, "no labels");
    }

    @Test
    void badBatchesAreRefusedWithThePosition() {
        IllegalArgumentException ragged = assertThrows(IllegalArgumentException.class,
                () -> TokenBatch.of(new int[][] {{1, 2}, {3}}, null, null));
        assertMentions(ragged, "ids row 1 has 1 entries; every row must have 2");
        IllegalArgumentException mask = assertThrows(IllegalArgumentException.class,
                () -> TokenBatch.of(new int[][] {{1, 2}}, new int[][] {{1, 2}}, null));
        assertMentions(mask, "attention mask value 2 at sequence 0, position 1");
        IllegalArgumentException label = assertThrows(IllegalArgumentException.class,
                () -> TokenBatch.of(new int[][] {{1, 2}}, null, new int[][] {{-1, 2}}));
        assertMentions(label, "label -1 at sequence 0, position 0");
        IllegalArgumentException id = assertThrows(IllegalArgumentException.class, () -> TokenBatch.of(1, -4));
        assertMentions(id, "token id -4 at sequence 0, position 1");
        assertThrows(IllegalArgumentException.class, () -> new TokenBatch(2, 2, new int[3], null, null));
    }

    @Test
    void arraysAreCopied() {
        int[] ids = {1, 2, 3};
        TokenBatch batch = new TokenBatch(1, 3, ids, null, null);
        ids[0] = 9;
        batch.ids()[1] = 9;
        assertArrayEquals(new int[] {1, 2, 3}, batch.ids());
    }
}
