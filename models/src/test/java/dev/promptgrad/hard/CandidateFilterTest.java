package dev.promptgrad.hard;

import dev.promptgrad.testing.SharedFiles;
import dev.promptgrad.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static dev.promptgrad.testing.Messages.assertMentions;

/**
 * The candidate filter on GPT-2's real tokenizer: special tokens and excluded ids out, every kept token survives
 * decode → encode (and every dropped one does not), ASCII on request; without a tokenizer only the excluded ids go;
 * an empty set and ASCII without a tokenizer are clear errors.
 */
class CandidateFilterTest {
    private static Tokenizer gpt2;

    @BeforeAll
    static void load() {
        gpt2 = Tokenizer.load(SharedFiles.find("tokenizers/gpt2/tokenizer.json"));
    }

    @Test
    void gpt2KeepsExactlyTheTokensThatRoundTrip() {
        CandidateFilter filter = CandidateFilter.build(50257, gpt2, Set.of(50256), CandidateFilter.Settings.DEFAULT);
        int the = gpt2.encode(" the")[0];
        assertTrue(filter.allows(the));
        assertFalse(filter.allows(50256), "<|endoftext|> is special and excluded");
        int kept = 0;
        for (int id = 0; id < 50256; id++) {
            boolean roundTrips = Arrays.equals(gpt2.encode(gpt2.decode(new int[] {id}, false)), new int[] {id});
            assertEquals(roundTrips, filter.allows(id), "token " + id + " " + gpt2.token(id));
            if (roundTrips) kept++;
        }
        assertEquals(kept, filter.count());
        assertTrue(kept > 40000 && kept < 50256, kept + " tokens kept: most GPT-2 tokens round-trip, byte pieces do not");
        assertTrue(filter.summary().contains(kept + " of 50257 tokens are candidates"), filter.summary());
    }

    @Test
    void asciiOnlyDropsTokensWithOtherCharacters() {
        CandidateFilter filter = CandidateFilter.build(50257, gpt2, Set.of(), new CandidateFilter.Settings(true, false));
        int accented = gpt2.encode("é")[0];
        assertEquals("é", gpt2.decode(new int[] {accented}, false));
        assertFalse(filter.allows(accented));
        assertFalse(filter.allows(gpt2.encode("\n")[0]), "a newline is not printable");
        assertTrue(filter.allows(gpt2.encode(" the")[0]));
        for (int id = 0; id < 50257; id++) {
            if (!filter.allows(id)) continue;
            String text = gpt2.decode(new int[] {id}, false);
            assertTrue(!text.isEmpty() && text.chars().allMatch(c -> c >= 0x20 && c <= 0x7E), id + ": " + text);
        }
    }

    @Test
    void aWholePromptRoundTripsOnlyIfItsTextEncodesBackToIt() {
        CandidateFilter filter = CandidateFilter.build(50257, gpt2, Set.of(), CandidateFilter.Settings.DEFAULT);
        int[] spaced = gpt2.encode(" the cat");
        assertTrue(filter.roundTrips(spaced));
        int[] glued = {gpt2.encode("in")[0], gpt2.encode("to")[0]};   // decodes to "into", which is one token
        assertEquals(1, gpt2.encode("into").length);
        assertTrue(filter.allows(glued[0]) && filter.allows(glued[1]), "each piece round-trips alone");
        assertFalse(filter.roundTrips(glued), "the pair's text re-tokenizes to one token");
        assertTrue(CandidateFilter.build(50257, gpt2, Set.of(), new CandidateFilter.Settings(false, false))
                .roundTrips(glued), "with the round trip off nothing is checked");
    }

    @Test
    void withoutATokenizerOnlyTheExcludedIdsGo() {
        CandidateFilter filter = CandidateFilter.build(8, null, Set.of(0, 1, 2), CandidateFilter.Settings.DEFAULT);
        assertEquals(5, filter.count());
        assertArrayEquals(new boolean[] {false, false, false, true, true, true, true, true}, filter.allowed());
        assertTrue(filter.roundTrips(new int[] {3, 4}), "no tokenizer: no round trip to check");
        assertTrue(filter.summary().contains("round trip is skipped"), filter.summary());
    }

    @Test
    void anEmptyCandidateSetIsAClearError() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> CandidateFilter.build(3, null, Set.of(0, 1, 2), CandidateFilter.Settings.DEFAULT));
        assertMentions(error, "no candidate token is left", "3 excluded ids");
        IllegalArgumentException ascii = assertThrows(IllegalArgumentException.class,
                () -> CandidateFilter.build(8, null, Set.of(), new CandidateFilter.Settings(true, true)));
        assertMentions(ascii, "ASCII", "needs a tokenizer");
    }
}
