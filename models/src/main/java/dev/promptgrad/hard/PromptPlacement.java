package dev.promptgrad.hard;

import dev.promptgrad.data.Example;

import java.util.Arrays;
import java.util.OptionalInt;

/**
 * Where a hard prompt's ids go in a sequence: after a leading {@code bos} ({@code BOS prompt text}, as typing the
 * prompt before the text gives), else first; its positions are labelled {@link Example#IGNORE}. Unlike a soft
 * prompt (PEFT's, before BOS), a hard prompt sits where text sits. It inserts ids; it does not tokenize or pad.
 *
 * @param bos the id a prompt goes after, when a sequence starts with it
 */
public record PromptPlacement(OptionalInt bos) {

    /** Prompts go first in every sequence. */
    public static final PromptPlacement FIRST = new PromptPlacement(OptionalInt.empty());

    public PromptPlacement {
        if (bos == null) throw new IllegalArgumentException("bos must be OptionalInt.empty(), not null");
    }

    /** How many ids of {@code ids} stay before the prompt: 1 after a leading BOS, else 0. */
    public int offset(int[] ids) {
        return bos.isPresent() && ids.length > 0 && ids[0] == bos.getAsInt() ? 1 : 0;
    }

    /** {@code ids} with {@code prompt} inserted at {@link #offset}. */
    public int[] insert(int[] ids, int[] prompt) {
        int at = offset(ids);
        int[] out = new int[ids.length + prompt.length];
        System.arraycopy(ids, 0, out, 0, at);
        System.arraycopy(prompt, 0, out, at, prompt.length);
        System.arraycopy(ids, at, out, at + prompt.length, ids.length - at);
        return out;
    }

    /** {@code example} with {@code prompt} inserted at {@link #offset}, labelled {@link Example#IGNORE}. */
    public Example insert(Example example, int[] prompt) {
        if (prompt.length == 0) return example;
        int[] ids = example.inputIds();
        int at = offset(ids);
        int[] labels = example.labels();
        int[] promptLabels = new int[prompt.length];
        Arrays.fill(promptLabels, Example.IGNORE);
        int[] outLabels = new int[labels.length + prompt.length];
        System.arraycopy(labels, 0, outLabels, 0, at);
        System.arraycopy(promptLabels, 0, outLabels, at, prompt.length);
        System.arraycopy(labels, at, outLabels, at + prompt.length, labels.length - at);
        return new Example(insert(ids, prompt), outLabels);
    }

    /** For messages and result files: "after BOS 1" or "first". */
    public String describe() {
        return bos.isPresent() ? "after BOS " + bos.getAsInt() : "first";
    }
}
