package dev.promptgrad.data;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads training examples from a JSONL file, one JSON object a line, in any of three forms (lines may mix them):
 * <ul>
 *   <li>{@code {"input_ids": [...], "labels": [...]}}: ids as given; labels optional (default: the input ids),
 *       -100 where no loss is taken, the same length as the ids;</li>
 *   <li>{@code {"text": "..."}}: the text's tokens, wrapped as the tokenizer wraps a text ({@link BosEosRule}), loss
 *       on every token;</li>
 *   <li>{@code {"input": "...", "output": "..."}}: the input's tokens (after the tokenizer's BOS, if it adds one),
 *       then the output's tokens and the tokenizer's EOS (if it has one); loss on the output and EOS only. Input
 *       and output are encoded separately, so the boundary between them is exact.</li>
 * </ul>
 * Blank lines are skipped. Any other line is an error naming the file and line: not JSON, not an object, neither
 * form (or keys of two forms, or unknown keys), wrong types, an id outside the vocabulary, no tokens, or more
 * tokens than fit in the model. It reads the whole file (up to {@link #MAX_FILE_BYTES}); it does not pad
 * ({@link RightPadding} does) or shuffle.
 */
public final class JsonlReader {

    /** The largest data file read: the reader holds the whole file, and a Java array stops short of 2 GiB. */
    public static final long MAX_FILE_BYTES = 1L << 30;
    private static final JsonLimits LINE_LIMITS = JsonLimits.upTo(64L << 20);
    private static final String FORMS = "each line must be one of {\"input_ids\": [...], \"labels\": [...]},"
            + " {\"text\": \"...\"} or {\"input\": \"...\", \"output\": \"...\"}";

    private final Tokenizer tokenizer;   // null: only input_ids lines can be read
    private final BosEosRule bosEos;
    private final int vocabSize;
    private final int maxTokens;
    private final String maxTokensReason;

    /**
     * @param tokenizer       encodes text lines; null when there is none (text lines are then an error)
     * @param bosEos          what the tokenizer puts around a text (ignored without a tokenizer)
     * @param vocabSize       the model's vocabulary: every id and label must be below it
     * @param maxTokens       the most tokens one example may have
     * @param maxTokensReason why that is the limit, for the message (e.g. "the model's context of 32 positions
     *                        less the prompt's 5")
     */
    public JsonlReader(Tokenizer tokenizer, BosEosRule bosEos, int vocabSize, int maxTokens, String maxTokensReason) {
        if (vocabSize < 1) throw new IllegalArgumentException("vocabSize must be at least 1, got " + vocabSize);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("no token fits in the model: at most " + maxTokens + " tokens (" + maxTokensReason + ")");
        }
        this.tokenizer = tokenizer;
        this.bosEos = bosEos;
        this.vocabSize = vocabSize;
        this.maxTokens = maxTokens;
        this.maxTokensReason = maxTokensReason;
    }

    /**
     * Every example of {@code file}, in file order.
     *
     * @throws DataFormatException   for the first bad line, or a file without examples
     * @throws UncheckedIOException  if the file cannot be read
     */
    public List<Example> read(Path file) {
        String name = file.toString();
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new DataFormatException(name, "the file is " + size + " bytes, more than the " + MAX_FILE_BYTES
                        + " read at once; split it into smaller files");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("data file " + name + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read data file " + name + ": " + e.getMessage(), e);
        }
        List<Example> examples = new ArrayList<>();
        int lineNumber = 0;
        for (int start = 0; start < bytes.length; ) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') end++;
            lineNumber++;
            int stop = end > start && bytes[end - 1] == '\r' ? end - 1 : end;
            byte[] line = Arrays.copyOfRange(bytes, start, stop);
            if (!isBlank(line)) examples.add(example(line, name, lineNumber));
            start = end + 1;
        }
        if (examples.isEmpty()) {
            throw new DataFormatException(name, (bytes.length == 0 ? "the file is empty" : "the file has only blank lines")
                    + "; " + FORMS);
        }
        return examples;
    }

    private Example example(byte[] line, String file, int lineNumber) {
        Object parsed;
        try {
            parsed = Json.parse(line, file + ":" + lineNumber, LINE_LIMITS);
        } catch (JsonException e) {
            String at = e.column() > 0 ? " at column " + e.column() : "";
            throw new DataFormatException(file, lineNumber, "not valid JSON" + at + ": " + e.detail());
        }
        if (!(parsed instanceof Map<?, ?> object)) {
            throw new DataFormatException(file, lineNumber, "the line is " + Json.describe(parsed) + ", not a JSON object; " + FORMS);
        }
        LineFields fields = new LineFields(object, file, lineNumber);
        Example example;
        if (object.containsKey("input_ids")) {
            fields.onlyKeys(Set.of("input_ids", "labels"));
            example = idsExample(fields);
        } else if (object.containsKey("text")) {
            fields.onlyKeys(Set.of("text"));
            example = Example.everyToken(bosEos.wrap(encode(fields, "text")));
        } else if (object.containsKey("input") || object.containsKey("output")) {
            fields.onlyKeys(Set.of("input", "output"));
            example = inputOutputExample(fields);
        } else {
            throw fields.error("the object has " + (object.isEmpty() ? "no keys" : "keys " + new TreeSet<>(fields.keys()))
                    + ", which is neither form; " + FORMS);
        }
        if (example.length() > maxTokens) {
            throw fields.error("the example has " + example.length() + " tokens, more than the " + maxTokens
                    + " that fit (" + maxTokensReason + "); shorten it");
        }
        return example;
    }

    private Example idsExample(LineFields fields) {
        int[] ids = fields.ints("input_ids");
        if (ids.length == 0) throw fields.error("'input_ids' is empty; an example needs at least one token");
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw fields.error("input_ids[" + i + "] = " + ids[i] + " is outside the model's vocabulary [0, " + vocabSize + ")");
            }
        }
        if (!fields.has("labels")) return Example.everyToken(ids);
        int[] labels = fields.ints("labels");
        if (labels.length != ids.length) {
            throw fields.error("'labels' has " + labels.length + " entries but 'input_ids' has " + ids.length
                    + "; they must be the same length (use -100 where no loss is taken)");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] != Example.IGNORE && (labels[i] < 0 || labels[i] >= vocabSize)) {
                throw fields.error("labels[" + i + "] = " + labels[i] + " is neither -100 nor in the model's vocabulary [0, "
                        + vocabSize + ")");
            }
        }
        return new Example(ids, labels);
    }

    private Example inputOutputExample(LineFields fields) {
        for (String key : List.of("input", "output")) {
            if (!fields.has(key)) throw fields.error("an {\"input\", \"output\"} example needs both keys, and '" + key + "' is missing");
        }
        int[] input = bosEos.start(encode(fields, "input"));
        int[] output = encode(fields, "output");
        if (tokenizer.eos().isPresent()) {
            output = Arrays.copyOf(output, output.length + 1);
            output[output.length - 1] = tokenizer.eos().getAsInt();
        }
        int[] ids = new int[input.length + output.length];
        int[] labels = new int[ids.length];
        System.arraycopy(input, 0, ids, 0, input.length);
        System.arraycopy(output, 0, ids, input.length, output.length);
        Arrays.fill(labels, 0, input.length, Example.IGNORE);
        System.arraycopy(output, 0, labels, input.length, output.length);
        if (ids.length == 0) throw fields.error("input and output are both empty; an example needs at least one token");
        return new Example(ids, labels);
    }

    /** The tokens of the string at {@code key}, each checked against the model's vocabulary. */
    private int[] encode(LineFields fields, String key) {
        String text = fields.string(key);
        if (tokenizer == null) {
            throw fields.error("the line holds text ('" + key + "'), but no tokenizer was given to encode it; give a"
                    + " tokenizer, or write the line as {\"input_ids\": [...], \"labels\": [...]}");
        }
        int[] ids = tokenizer.encode(text);
        for (int id : ids) {
            if (id >= vocabSize) {
                throw fields.error("the tokenizer " + tokenizer.name() + " gives id " + id + " for '" + key
                        + "', outside the model's vocabulary [0, " + vocabSize + "); the tokenizer does not belong to this model");
            }
        }
        return ids;
    }

    private static boolean isBlank(byte[] line) {
        for (byte b : line) if (b != ' ' && b != '\t' && b != '\r') return false;
        return true;
    }

    /** The keys of one line's object, read with messages that name the file, line and key. */
    private static final class LineFields {
        private final Map<?, ?> object;
        private final String file;
        private final int line;

        LineFields(Map<?, ?> object, String file, int line) {
            this.object = object;
            this.file = file;
            this.line = line;
        }

        DataFormatException error(String detail) {
            return new DataFormatException(file, line, detail);
        }

        Set<String> keys() {
            Set<String> keys = new TreeSet<>();
            for (Object key : object.keySet()) keys.add((String) key);
            return keys;
        }

        boolean has(String key) {
            return object.containsKey(key);
        }

        void onlyKeys(Set<String> allowed) {
            Set<String> unknown = keys();
            unknown.removeAll(allowed);
            if (!unknown.isEmpty()) {
                throw error("unexpected key" + (unknown.size() > 1 ? "s " : " ") + unknown + " beside " + new TreeSet<>(allowed)
                        + "; " + FORMS);
            }
        }

        String string(String key) {
            Object value = object.get(key);
            if (!(value instanceof String text)) throw error("'" + key + "' must be a string, but is " + Json.describe(value));
            return text;
        }

        int[] ints(String key) {
            Object value = object.get(key);
            if (!(value instanceof List<?> items)) {
                throw error("'" + key + "' must be an array of integers, but is " + Json.describe(value));
            }
            int[] ints = new int[items.size()];
            for (int i = 0; i < ints.length; i++) {
                Object item = items.get(i);
                if (!(item instanceof Long number) || number < Integer.MIN_VALUE || number > Integer.MAX_VALUE) {
                    throw error("'" + key + "' must be an array of integers, but " + key + "[" + i + "] is " + Json.describe(item));
                }
                ints[i] = (int) (long) number;
            }
            return ints;
        }
    }
}
