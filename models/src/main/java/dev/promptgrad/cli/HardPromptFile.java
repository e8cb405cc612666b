package dev.promptgrad.cli;

import dev.promptgrad.hard.CandidateFilter;
import dev.promptgrad.hard.HardPromptResult;
import dev.promptgrad.hard.PromptPlacement;
import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The result file of {@code hard} and {@code discretize} (docs/cli.md): its fields, written atomically as
 * indented JSON, and what the two commands share around it — the ids no prompt may hold, a start repeated to the
 * prompt's length, and a prompt shown as text or ids. {@link HardPromptOption} reads the file back.
 */
final class HardPromptFile {

    private HardPromptFile() {
    }

    /**
     * The ids never put in a prompt: the tokenizer's BOS, EOS and padding, the stop tokens and the placement's BOS;
     * for a llama2.c checkpoint without a tokenizer, llama2.c's &lt;unk&gt;, &lt;s&gt; and &lt;/s&gt; (0, 1, 2).
     */
    static Set<Integer> excludedIds(ModelSource source) {
        Set<Integer> excluded = new TreeSet<>();
        Tokenizer tokenizer = source.tokenizer();
        if (tokenizer != null) {
            tokenizer.bos().ifPresent(excluded::add);
            tokenizer.eos().ifPresent(excluded::add);
            tokenizer.pad().ifPresent(excluded::add);
        } else if (!Files.isDirectory(source.path())) {
            excluded.addAll(Set.of(0, HardPromptOption.LLAMA2C_BOS, 2));
        }
        for (int id : source.stopTokens()) excluded.add(id);
        source.bosEos().bos().ifPresent(excluded::add);
        return excluded;
    }

    /** {@code ids} repeated and cut to {@code tokens} (PEFT's TEXT init rule); {@code flag} names them in errors. */
    static int[] repeated(int[] ids, int tokens, String flag) {
        if (ids.length == 0) throw new IllegalArgumentException(flag + " has no tokens; give a text or ids to start from");
        int[] out = new int[tokens];
        for (int i = 0; i < tokens; i++) out[i] = ids[i % ids.length];
        return out;
    }

    /** The prompt as a JSON string of its text, or its ids without a tokenizer. */
    static String show(Tokenizer tokenizer, int[] ids) {
        if (tokenizer == null) return "ids " + Arrays.toString(ids);
        return JsonWriter.compact().write(tokenizer.decode(ids, false));
    }

    /** The fields common to both commands' files, in their documented order. */
    static Map<String, Object> prompt(ModelSource source, PromptPlacement placement, String method, int[] ids,
                                      CandidateFilter filter) {
        Tokenizer tokenizer = source.tokenizer();
        String text = tokenizer == null ? null : tokenizer.decode(ids, false);
        Map<String, Object> file = new LinkedHashMap<>();
        file.put("method", method);
        file.put("model", source.path().toString());
        file.put("tokenizer", tokenizer == null ? null : tokenizer.name());
        file.put("placement", placement.describe());
        file.put("tokens", ids.length);
        file.put("ids", Arrays.stream(ids).boxed().toList());
        file.put("text", text);
        file.put("text_round_trips", text == null ? null : Arrays.equals(tokenizer.encode(text), ids));
        file.put("candidates", filter.count());
        return file;
    }

    /** What {@code hard} writes. */
    static Map<String, Object> result(ModelSource source, PromptPlacement placement, HardPromptResult result,
                                      CandidateFilter filter, Map<String, Object> settings) {
        Map<String, Object> file = prompt(source, placement, result.method(), result.ids(), filter);
        file.put("train_loss", result.trainLoss());
        file.put("eval_loss", result.hasEval() ? result.evalLoss() : null);
        file.put("baseline_train_loss", result.baselineTrainLoss());
        file.put("baseline_eval_loss", result.hasEval() ? result.baselineEvalLoss() : null);
        file.put("judged_on", result.hasEval() ? "eval" : "train");
        file.put("best_step", result.bestStep());
        file.put("steps", result.steps());
        file.put("settings", settings);
        return file;
    }

    /** Writes {@code fields} to {@code file} as indented JSON, atomically. */
    static void write(Path file, Map<String, Object> fields) {
        try {
            AtomicFile.write(file, JsonWriter.pretty().writeUtf8(fields));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
