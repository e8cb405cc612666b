package dev.promptgrad.data;

import dev.promptgrad.model.TokenBatch;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Right padding: pad ids after each sequence, mask 0 and label -100 at pads. */
class RightPaddingTest {
    private static final int X = Example.IGNORE;

    @Test
    void padsOnTheRightToTheLongestExample() {
        TokenBatch batch = RightPadding.batch(List.of(
                new Example(new int[]{5, 6}, new int[]{X, 6}),
                new Example(new int[]{7, 8, 9, 10}, new int[]{X, 8, X, 10}),
                Example.everyToken(new int[]{11})), 0);
        assertEquals(3, batch.size());
        assertEquals(4, batch.length());
        assertArrayEquals(new int[]{5, 6, 0, 0, 7, 8, 9, 10, 11, 0, 0, 0}, batch.ids());
        assertArrayEquals(new int[]{1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0}, batch.attentionMask());
        assertArrayEquals(new int[]{X, 6, X, X, X, 8, X, 10, 11, X, X, X}, batch.labels());
    }

    @Test
    void usesTheGivenPadId() {
        TokenBatch batch = RightPadding.batch(List.of(Example.everyToken(new int[]{1}), Example.everyToken(new int[]{2, 3})), 60);
        assertArrayEquals(new int[]{1, 60, 2, 3}, batch.ids());
        assertArrayEquals(new int[]{1, X, 2, 3}, batch.labels());
    }

    @Test
    void refusesAnEmptyBatchAndMismatchedExamples() {
        assertEquals("a batch needs at least one example",
                assertThrows(IllegalArgumentException.class, () -> RightPadding.batch(List.of(), 0)).getMessage());
        assertEquals("an example has 2 input ids but 1 labels; they must be the same length",
                assertThrows(IllegalArgumentException.class, () -> new Example(new int[]{1, 2}, new int[]{1})).getMessage());
    }
}
