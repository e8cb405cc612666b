package dev.promptgrad.tokenizer;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Compares two id arrays and, on a difference, reports where: the first differing index, the ids around it and
 * the text they decode to, which is what one needs to find a tokenizer bug in a 200 KB input.
 */
final class IdAssertions {
    private IdAssertions() {
    }

    static void assertSameIds(int[] expected, int[] actual, Tokenizer tokenizer) {
        int n = Math.min(expected.length, actual.length);
        int first = 0;
        while (first < n && expected[first] == actual[first]) first++;
        if (first == n && expected.length == actual.length) return;
        int from = Math.max(0, first - 5);
        fail("ids differ at index " + first + " (lengths " + expected.length + " and " + actual.length + ")\n"
                + "expected " + window(expected, from, tokenizer) + "\nactual   " + window(actual, from, tokenizer));
    }

    private static String window(int[] ids, int from, Tokenizer tokenizer) {
        StringBuilder out = new StringBuilder();
        for (int i = from; i < Math.min(ids.length, from + 12); i++) {
            out.append(ids[i]).append('=').append(escape(tokenizer.token(ids[i]))).append(' ');
        }
        return out.toString();
    }

    private static String escape(String piece) {
        StringBuilder out = new StringBuilder("'");
        piece.codePoints().forEach(c -> {
            if (c < 0x20 || (c >= 0x7F && c < 0xA0)) out.append(String.format("\\u%04X", c));
            else out.appendCodePoint(c);
        });
        return out.append('\'').toString();
    }
}
