package dev.promptgrad.cli;

import dev.promptgrad.data.DataFormatException;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The requests file of {@code generate --batch}: one JSON object a line, {@code {"prompt": "ADAPTER_DIR" or
 * null, "text": "…" or "input_ids": [...], "max_new_tokens": N, "temperature": T, "seed": S}} (only the text or
 * the ids are required). Reads and checks the lines, with errors naming the file and line; it opens no adapter
 * and encodes no text (the command does).
 */
final class GenerationRequests {

    private static final JsonLimits LINE_LIMITS = JsonLimits.upTo(64L << 20);
    private static final Set<String> KEYS = Set.of("prompt", "text", "input_ids", "max_new_tokens", "temperature", "seed");
    private static final String FORM = "each line must be {\"prompt\": \"ADAPTER_DIR\" or null, \"text\": \"...\" or"
            + " \"input_ids\": [...], and optionally \"max_new_tokens\", \"temperature\", \"seed\"}";

    /**
     * One line. A null field means "not given": the command's flag applies.
     *
     * @param adapter the adapter folder, or null for no soft prompt
     * @param text    the text to continue, or null when {@code ids} are given
     * @param ids     the ids to continue, or null when {@code text} is given
     */
    record Line(int number, Path adapter, String text, int[] ids, Integer maxNewTokens, Double temperature, Long seed) {
    }

    private GenerationRequests() {
    }

    /** Every request of {@code file} in order; blank lines are skipped, an empty file is an error. */
    static List<Line> read(Path file) {
        String name = file.toString();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("requests file " + name + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read requests file " + name + ": " + e.getMessage(), e);
        }
        List<Line> requests = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            requests.add(line(lines.get(i), name, i + 1));
        }
        if (requests.isEmpty()) throw new DataFormatException(name, "the file has no requests; " + FORM);
        return requests;
    }

    private static Line line(String text, String file, int number) {
        try {
            Object parsed = Json.parse(text, file + ":" + number, LINE_LIMITS);
            if (!(parsed instanceof Map<?, ?>)) {
                throw new DataFormatException(file, number, "the line is " + Json.describe(parsed) + ", not a JSON object; "
                        + FORM);
            }
            JsonObject object = JsonObject.of(parsed, file + ":" + number);
            Set<String> unknown = new TreeSet<>(object.keys());
            unknown.removeAll(KEYS);
            if (!unknown.isEmpty()) throw new DataFormatException(file, number, "unknown keys " + unknown + "; " + FORM);
            boolean hasText = object.has("text");
            if (hasText == object.has("input_ids")) {
                throw new DataFormatException(file, number, (hasText ? "both 'text' and 'input_ids' are given"
                        : "neither 'text' nor 'input_ids' is given") + "; " + FORM);
            }
            Path adapter = object.get("prompt") == null ? null : Path.of(object.requireString("prompt"));
            return new Line(number, adapter, hasText ? object.requireString("text") : null,
                    hasText ? null : object.requireInts("input_ids"),
                    object.has("max_new_tokens") ? object.requireInt("max_new_tokens") : null,
                    object.has("temperature") ? object.requireDouble("temperature") : null,
                    object.has("seed") ? object.requireLong("seed") : null);
        } catch (JsonException e) {
            String at = e.column() > 0 ? "not valid JSON at column " + e.column() + ": " : "";
            throw new DataFormatException(file, number, at + e.detail());
        }
    }
}
