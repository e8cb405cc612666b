package dev.promptgrad.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The pre-tokenizers cut text as Hugging Face's do (examples worked out from the patterns and HF's docs). */
class PreTokenizerTest {
    /** The pattern in Llama 3's tokenizer.json. */
    private static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private static List<String> pieces(PreTokenizer preTokenizer, String text) {
        List<String> out = new ArrayList<>();
        preTokenizer.split(text, true, (piece, start) -> out.add(piece));
        return out;
    }

    private static PreTokenizer split(String regex, PreTokenizer.Behavior behavior) {
        return new PreTokenizer.Split(PreTokenizer.compile(regex, "test"), behavior, false);
    }

    @Test
    void gpt2PatternKeepsSpacesWithTheFollowingWord() {
        PreTokenizer gpt2 = new PreTokenizer.ByteLevel(false, true);
        assertEquals(List.of("Hello", "Ġworld", "'s", "Ġ", "Ġend", "ĊĊ", "Ġ123", "!!"),
                pieces(gpt2, "Hello world's  end\n\n 123!!"));
        // "'S" is not a GPT-2 contraction (the pattern is case-sensitive): it falls to punctuation, then letters;
        // trailing spaces stay one piece
        assertEquals(List.of("IT", "'", "S", "ĠĠĠ"), pieces(gpt2, "IT'S   "));
    }

    @Test
    void byteLevelPrefixSpaceOnlyWhenMissing() {
        assertEquals(List.of("Ġhi"), pieces(new PreTokenizer.ByteLevel(true, true), "hi"));
        assertEquals(List.of("Ġhi"), pieces(new PreTokenizer.ByteLevel(true, true), " hi"));
        assertEquals(List.of("hiĠthere"), pieces(new PreTokenizer.ByteLevel(false, false), "hi there"));
    }

    @Test
    void llama3SplitThenByteLevel() {
        PreTokenizer llama3 = new PreTokenizer.Sequence(List.of(
                split(LLAMA3, PreTokenizer.Behavior.ISOLATED), new PreTokenizer.ByteLevel(false, false)));
        assertEquals(List.of("Hello", "Ġworld", "Ġ", "123", "45", "!!ĊĊ", "I", "'LL", "Ġgo"),
                pieces(llama3, "Hello world 12345!!\n\nI'LL go"));
        // a letter run may start with one non-letter, non-digit character
        assertEquals(List.of("(a", ")."), pieces(llama3, "(a)."));
    }

    @Test
    void possessiveCl100kPattern() {
        String cl100k = "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}"
                + "| ?[^\\s\\p{L}\\p{N}]++[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+";
        assertEquals(List.of("I", "'LL", " SEE", " YOU", "'RE", " RIGHT", ",", " it", "'s", " ", "123", "456", "7",
                " o", "'clock", "\n\n", "  ", " x"),
                pieces(split(cl100k, PreTokenizer.Behavior.ISOLATED), "I'LL SEE YOU'RE RIGHT, it's 1234567 o'clock\n\n   x"));
    }

    @Test
    void splitBehaviorsFollowHuggingFaceDocs() {
        String text = "the-final--countdown";
        assertEquals(List.of("the", "final", "countdown"), pieces(split("-", PreTokenizer.Behavior.REMOVED), text));
        assertEquals(List.of("the", "-", "final", "-", "-", "countdown"), pieces(split("-", PreTokenizer.Behavior.ISOLATED), text));
        assertEquals(List.of("the-", "final-", "-", "countdown"), pieces(split("-", PreTokenizer.Behavior.MERGED_WITH_PREVIOUS), text));
        assertEquals(List.of("the", "-final", "-", "-countdown"), pieces(split("-", PreTokenizer.Behavior.MERGED_WITH_NEXT), text));
        assertEquals(List.of("the", "-", "final", "--", "countdown"), pieces(split("-", PreTokenizer.Behavior.CONTIGUOUS), text));
        PreTokenizer inverted = new PreTokenizer.Split(Pattern.compile("-"), PreTokenizer.Behavior.REMOVED, true);
        assertEquals(List.of("-", "-", "-"), pieces(inverted, text));
    }

    @Test
    void digitsAloneOrInRuns() {
        assertEquals(List.of("a", "1", "2", "3", "b", "٣"), pieces(new PreTokenizer.Digits(true), "a123b٣"));
        assertEquals(List.of("a", "123", "b"), pieces(new PreTokenizer.Digits(false), "a123b"));
    }

    @Test
    void metaspaceReplacesSpacesAndPrepends() {
        PreTokenizer first = new PreTokenizer.Metaspace('▁', PreTokenizer.PrependScheme.FIRST, false);
        assertEquals(List.of("▁Hello▁world"), pieces(first, "Hello world"));
        List<String> notFirst = new ArrayList<>();
        first.split("Hello", false, (piece, start) -> notFirst.add(piece));
        assertEquals(List.of("Hello"), notFirst);
        PreTokenizer splitting = new PreTokenizer.Metaspace('▁', PreTokenizer.PrependScheme.ALWAYS, true);
        assertEquals(List.of("▁Hello", "▁", "▁world"), pieces(splitting, "Hello  world"));
    }
}
