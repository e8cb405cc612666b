package dev.promptgrad.tokenizer;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The real GPT-2 tokenizer.json (shared/tokenizers/gpt2) against jtokkit's r50k_base, an independent encoder of the
 * same vocabulary: identical ids on a large mixed text, and exact round trips.
 */
class Gpt2TokenizerTest {
    private static HuggingFaceTokenizer gpt2;
    private static Encoding r50k;

    @BeforeAll
    static void load() {
        gpt2 = HuggingFaceTokenizer.load(SharedTokenizerFiles.path("gpt2/tokenizer.json"));
        r50k = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    @Test
    void vocabularyAndSpecialTokens() {
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50256, gpt2.bos().getAsInt());   // from tokenizer_config.json
        assertEquals(50256, gpt2.eos().getAsInt());
        assertFalse(gpt2.pad().isPresent());
        assertEquals(Set.of(50256), gpt2.specialTokens());
        assertEquals("<|endoftext|>", gpt2.token(50256));
        assertEquals("Ġthe", gpt2.token(262));
    }

    @Test
    void knownIds() {
        assertArrayEquals(new int[]{15496, 995}, gpt2.encode("Hello world"));
        assertArrayEquals(new int[]{50256, 15496, 995}, gpt2.encode("Hello world", true));
        assertArrayEquals(new int[0], gpt2.encode(""));
    }

    @Test
    void matchesJtokkitOnLargeMixedText() {
        String text = MixedText.generate(2024, 250_000);
        int[] ids = gpt2.encode(text);
        IdAssertions.assertSameIds(r50k.encodeOrdinary(text).toArray(), ids, gpt2);
        assertEquals(text, gpt2.decode(ids));
    }

    @Test
    void specialTokenTextIsPlainUnlessAsked() {
        String text = "a<|endoftext|>b";
        IdAssertions.assertSameIds(r50k.encodeOrdinary(text).toArray(), gpt2.encode(text), gpt2);
        assertArrayEquals(new int[]{64, 50256, 65}, gpt2.encodeMatchingAddedTokens(text, false));
        assertEquals("a<|endoftext|>b", gpt2.decode(new int[]{64, 50256, 65}));
        assertEquals("ab", gpt2.decode(new int[]{64, 50256, 65}, true));
    }

    @Test
    void decodeReplacesIncompleteUtf8() {
        int[] smile = gpt2.encode("😀");  // four byte pieces, or fewer if GPT-2 merged some
        int[] cut = Arrays.copyOf(smile, smile.length - 1);
        assertEquals("\uFFFD", gpt2.decode(cut));
        int leadByteC3 = gpt2.idOf("Ã").getAsInt();  // the piece for byte C3 alone, which starts é (C3 A9)
        assertEquals("\uFFFD!", gpt2.decode(new int[]{leadByteC3, gpt2.idOf("!").getAsInt()}));
        assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[]{50257}));
    }
}
