package dev.promptgrad.cli;

import dev.promptgrad.hard.PromptPlacement;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * {@code --hard-prompt TEXT|RESULT.json} for {@code eval} and {@code generate}, a picocli mixin: a text (encoded
 * without BOS) or the result file of {@code hard} or {@code discretize} (its {@code ids}), whose tokens go after
 * the BOS of each sequence ({@link PromptPlacement}). Also where a hard prompt goes for a model source, which
 * {@code hard} and {@code discretize} share. It resolves ids; the commands insert them.
 */
final class HardPromptOption {

    /** llama2.c's BOS, fixed by its format: a .bin checkpoint without a tokenizer still starts sequences with it. */
    static final int LLAMA2C_BOS = 1;

    private static final JsonLimits RESULT_LIMITS = JsonLimits.upTo(64L << 20);

    @Option(names = "--hard-prompt", paramLabel = "TEXT|RESULT.json",
            description = "A hard prompt inserted after BOS: a text, or the result file of 'hard' or 'discretize'.")
    String value;

    boolean given() {
        return value != null;
    }

    /** The prompt's ids, checked against the model's vocabulary; fails if it has none. */
    int[] ids(ModelSource source) {
        int[] ids;
        Path file = value.endsWith(".json") ? Path.of(value) : null;
        if (file != null && Files.isRegularFile(file)) {
            JsonObject result = Json.parseObjectFile(file, RESULT_LIMITS);
            if (!result.has("ids")) {
                throw new IllegalArgumentException("--hard-prompt " + file + " has no \"ids\"; give the result file of"
                        + " 'promptgrad hard' or 'promptgrad discretize', or the prompt's text");
            }
            ids = result.requireInts("ids");
        } else {
            ids = source.requireTokenizer("--hard-prompt \"" + value + "\" (a text)").encode(value);
        }
        if (ids.length == 0) throw new IllegalArgumentException("--hard-prompt \"" + value + "\" has no tokens");
        int vocab = source.model().vocabSize();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("--hard-prompt " + value + ": id " + ids[i] + " (number " + (i + 1)
                        + ") is outside " + source.model().name() + "'s vocabulary [0, " + vocab + ")");
            }
        }
        return ids;
    }

    /**
     * Where a hard prompt goes for {@code source}: after the tokenizer's BOS if it adds one; for a llama2.c
     * checkpoint without a tokenizer, after llama2.c's BOS (id 1); otherwise first.
     */
    static PromptPlacement placement(ModelSource source) {
        OptionalInt bos = source.bosEos().bos();
        if (bos.isEmpty() && source.tokenizer() == null && !Files.isDirectory(source.path())) {
            bos = OptionalInt.of(LLAMA2C_BOS);
        }
        return new PromptPlacement(bos);
    }
}
