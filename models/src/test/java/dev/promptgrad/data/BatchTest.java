package dev.promptgrad.data;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Right padding: pad ids after each sequence, mask 0 and label -100 at pads, rows recoverable. */
class BatchTest {
    private static final int X = Example.IGNORE;

    @Test
    void padsOnTheRightToTheLongestExample() {
        Batch batch = Batch.pad(List.of(
                new Example(new int[]{5, 6}, new int[]{X, 6}),
                new Example(new int[]{7, 8, 9, 10}, new int[]{X, 8, X, 10}),
                Example.everyToken(new int[]{11})), 0);
        assertEquals(3, batch.size());
        assertEquals(4, batch.length());
        assertArrayEquals(new int[]{5, 6, 0, 0, 7, 8, 9, 10, 11, 0, 0, 0}, batch.inputIds());
        assertArrayEquals(new int[]{1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0}, batch.attentionMask());
        assertArrayEquals(new int[]{X, 6, X, X, X, 8, X, 10, 11, X, X, X}, batch.labels());
        assertEquals(1, batch.length(2));
        assertArrayEquals(new int[]{7, 8, 9, 10}, batch.inputIds(1));
        assertArrayEquals(new int[]{X, 6}, batch.labels(0));
    }

    @Test
    void usesTheGivenPadId() {
        Batch batch = Batch.pad(List.of(Example.everyToken(new int[]{1}), Example.everyToken(new int[]{2, 3})), 60);
        assertArrayEquals(new int[]{1, 60, 2, 3}, batch.inputIds());
        assertArrayEquals(new int[]{1, X, 2, 3}, batch.labels());
    }

    @Test
    void refusesAnEmptyBatchAndMismatchedExamples() {
        assertEquals("a batch needs at least one example",
                assertThrows(IllegalArgumentException.class, () -> Batch.pad(List.of(), 0)).getMessage());
        assertEquals("an example has 2 input ids but 1 labels; they must be the same length",
                assertThrows(IllegalArgumentException.class, () -> new Example(new int[]{1, 2}, new int[]{1})).getMessage());
    }
}
