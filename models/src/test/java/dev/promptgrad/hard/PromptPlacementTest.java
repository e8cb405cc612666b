package dev.promptgrad.hard;

import dev.promptgrad.data.Example;
import org.junit.jupiter.api.Test;

import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** A hard prompt goes after a leading BOS, or first; its positions are never scored. */
class PromptPlacementTest {
    private static final int IGNORE = Example.IGNORE;

    @Test
    void goesAfterALeadingBosWithIgnoredLabels() {
        PromptPlacement placement = new PromptPlacement(OptionalInt.of(1));
        Example example = new Example(new int[] {1, 8, 9, 10}, new int[] {IGNORE, IGNORE, 9, 10});
        Example prompted = placement.insert(example, new int[] {40, 41});
        assertArrayEquals(new int[] {1, 40, 41, 8, 9, 10}, prompted.inputIds());
        assertArrayEquals(new int[] {IGNORE, IGNORE, IGNORE, IGNORE, 9, 10}, prompted.labels());
        assertEquals(1, placement.offset(example.inputIds()));
        assertEquals("after BOS 1", placement.describe());
    }

    @Test
    void goesFirstWhenTheSequenceDoesNotStartWithBos() {
        PromptPlacement placement = new PromptPlacement(OptionalInt.of(1));
        Example example = Example.everyToken(new int[] {8, 1, 9});
        Example prompted = placement.insert(example, new int[] {40});
        assertArrayEquals(new int[] {40, 8, 1, 9}, prompted.inputIds());
        assertArrayEquals(new int[] {IGNORE, 8, 1, 9}, prompted.labels());
        assertArrayEquals(new int[] {40, 41, 3}, PromptPlacement.FIRST.insert(new int[] {3}, new int[] {40, 41}));
        assertArrayEquals(new int[] {1, 40}, placement.insert(new int[] {1}, new int[] {40}));
    }

    @Test
    void anEmptyPromptLeavesTheExample() {
        Example example = Example.everyToken(new int[] {1, 2, 3});
        assertSame(example, new PromptPlacement(OptionalInt.of(1)).insert(example, new int[0]));
    }
}
