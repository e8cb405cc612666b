package dev.promptgrad.prompt;

import dev.promptgrad.data.CharTokenizer;
import org.junit.jupiter.api.Test;

import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing the three init forms, and the values each produces. */
class PromptInitTest {
    /** Token id i embeds as (i, i + 0.5). */
    private static final IntFunction<float[]> EMBED = id -> new float[]{id, id + 0.5f};

    @Test
    void parsesEachForm() {
        assertEquals(new PromptInit.RandomNormal(7, 20), PromptInit.parse("random:7:20"));
        assertEquals(new PromptInit.SampledVocab(-3, 1), PromptInit.parse("vocab:-3:1"));
        assertEquals(new PromptInit.FromText("Classify: a:b"), PromptInit.parse("text:Classify: a:b"));
    }

    @Test
    void refusesMalformedSpecs() {
        assertEquals("prompt init 'zeros:5' is not one of random:SEED:N, vocab:SEED:N, text:TEXT",
                assertThrows(IllegalArgumentException.class, () -> PromptInit.parse("zeros:5")).getMessage());
        assertEquals("prompt init 'random:1' is not one of random:SEED:N, vocab:SEED:N, text:TEXT",
                assertThrows(IllegalArgumentException.class, () -> PromptInit.parse("random:1")).getMessage());
        assertEquals("prompt init 'vocab:x:3': SEED must be an integer and N a positive integer, as in vocab:0:20",
                assertThrows(IllegalArgumentException.class, () -> PromptInit.parse("vocab:x:3")).getMessage());
        assertEquals("prompt init 'random:1:0': N must be at least 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> PromptInit.parse("random:1:0")).getMessage());
    }

    @Test
    void randomIsStandardNormalFromJavasSpecifiedGenerator() {
        PromptInit.Initial first = PromptInit.parse("random:0:3").initialise(4, 30, null, EMBED);
        assertEquals(3, first.tokens());
        assertEquals(12, first.values().length);
        assertEquals((float) 0.8025330637390305, first.values()[0]);   // new java.util.Random(0).nextGaussian()
        assertArrayEquals(first.values(), PromptInit.parse("random:0:3").initialise(4, 30, null, EMBED).values());
        assertFalse(java.util.Arrays.equals(first.values(), PromptInit.parse("random:1:3").initialise(4, 30, null, EMBED).values()));
        assertEquals(0, first.sourceIds().length);
    }

    @Test
    void vocabCopiesTheEmbeddingsOfSampledIds() {
        PromptInit.Initial initial = PromptInit.parse("vocab:5:4").initialise(2, 30, null, EMBED);
        int[] ids = initial.sourceIds();
        assertEquals(4, ids.length);
        java.util.Random expected = new java.util.Random(5);
        for (int i = 0; i < 4; i++) {
            assertEquals(expected.nextInt(30), ids[i]);
            assertEquals(ids[i], initial.values()[2 * i]);
            assertEquals(ids[i] + 0.5f, initial.values()[2 * i + 1]);
        }
    }

    @Test
    void textCopiesTheEmbeddingsOfItsTokensWithoutBos() {
        PromptInit.Initial initial = PromptInit.parse("text:ab").initialise(2, 30, new CharTokenizer(), EMBED);
        assertArrayEquals(new int[]{4, 5}, initial.sourceIds());
        assertArrayEquals(new float[]{4, 4.5f, 5, 5.5f}, initial.values());
    }

    @Test
    void textNeedsATokenizerAndTokensInTheVocabulary() {
        PromptInit text = PromptInit.parse("text:ab");
        String noTokenizer = assertThrows(IllegalArgumentException.class, () -> text.initialise(2, 30, null, EMBED)).getMessage();
        assertTrue(noTokenizer.contains("needs a tokenizer"), noTokenizer);
        String outside = assertThrows(IllegalArgumentException.class,
                () -> text.initialise(2, 5, new CharTokenizer(), EMBED)).getMessage();
        assertEquals("prompt init 'text:ab': the tokenizer gives id 5, outside the model's vocabulary [0, 5)", outside);
        assertEquals("prompt init 'text:' has no tokens", assertThrows(IllegalArgumentException.class,
                () -> PromptInit.parse("text:").initialise(2, 30, new CharTokenizer(), EMBED)).getMessage());
    }
}
