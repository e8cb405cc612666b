package dev.promptgrad.data;

import dev.promptgrad.tokenizer.Tokenizer;

import java.util.OptionalInt;
import java.util.Set;

/**
 * A test tokenizer with one id per lower-case letter or space: UNK 0, BOS 1, EOS 2, space 3, 'a' 4 … 'z' 29;
 * anything else is UNK. Small enough to work out expected ids by hand.
 */
public class CharTokenizer implements Tokenizer {
    public static final int BOS = 1, EOS = 2;

    @Override
    public int[] encode(String text) {
        int[] ids = new int[text.length()];
        for (int i = 0; i < ids.length; i++) {
            char c = text.charAt(i);
            ids[i] = c == ' ' ? 3 : c >= 'a' && c <= 'z' ? 4 + c - 'a' : 0;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            if (skipSpecial && id < 3) continue;
            text.append(token(id));
        }
        return text.toString();
    }

    @Override
    public String token(int id) {
        return switch (id) {
            case 0 -> "<unk>";
            case 1 -> "<s>";
            case 2 -> "</s>";
            case 3 -> " ";
            default -> String.valueOf((char) ('a' + id - 4));
        };
    }

    @Override
    public int vocabSize() {
        return 30;
    }

    @Override
    public OptionalInt bos() {
        return OptionalInt.of(BOS);
    }

    @Override
    public OptionalInt eos() {
        return OptionalInt.of(EOS);
    }

    @Override
    public OptionalInt pad() {
        return OptionalInt.empty();
    }

    @Override
    public Set<Integer> specialTokens() {
        return Set.of(0, 1, 2);
    }

    @Override
    public String name() {
        return "chars";
    }
}
