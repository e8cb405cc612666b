package dev.promptgrad.embedding;

import dev.promptgrad.data.DataFormatException;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;

/**
 * The examples of an encoder objective's run: training examples and held-out ones (a second file, a seeded share
 * of the training file, or none), read from JSONL. {@code classify} reads {@code {"text": …, "label": …}} lines
 * ({@link LabelledText}), {@code contrastive} reads {@code {"query": …, "positive": …}} lines ({@link TextPair}).
 * Blank lines are skipped; any other line that is not that form is an error naming the file and line, and saying
 * which objective the line would suit. It does not tokenize, batch or shuffle.
 *
 * @param <E> {@link LabelledText} or {@link TextPair}
 */
public final class EncoderData<E> {
    private static final JsonLimits LINE_LIMITS = JsonLimits.upTo(16L << 20);
    private static final long EVAL_SPLIT_SALT = 0x5EEDL;
    private static final String CLASSIFY_FORM = "{\"text\": \"…\", \"label\": \"…\"}";
    private static final String CONTRASTIVE_FORM = "{\"query\": \"…\", \"positive\": \"…\"}";

    private final List<E> train;
    private final List<E> eval;
    private final String description;

    private EncoderData(List<E> train, List<E> eval, String description) {
        if (train.isEmpty()) throw new IllegalArgumentException("training needs at least one example");
        this.train = List.copyOf(train);
        this.eval = List.copyOf(eval);
        this.description = description;
    }

    /** Examples made in code; {@code eval} may be empty. */
    public static <E> EncoderData<E> of(List<E> train, List<E> eval, String description) {
        return new EncoderData<>(train, eval, description);
    }

    /** {@code classify} data: the training file, the held-out file or share (see {@link #read}). */
    public static EncoderData<LabelledText> labelled(Path trainFile, Path evalFile, double evalSplit, long seed) {
        return read(trainFile, evalFile, evalSplit, seed, EncoderData::labelledLines);
    }

    /** {@code contrastive} data: the training file, the held-out file or share (see {@link #read}). */
    public static EncoderData<TextPair> pairs(Path trainFile, Path evalFile, double evalSplit, long seed) {
        return read(trainFile, evalFile, evalSplit, seed, EncoderData::pairLines);
    }

    /**
     * Reads {@code trainFile} and, if given, {@code evalFile}; or holds out {@code evalSplit} of the training
     * examples (at least one, chosen by {@code seed}; 0 for none).
     */
    private static <E> EncoderData<E> read(Path trainFile, Path evalFile, double evalSplit, long seed,
                                           BiFunction<byte[], String, List<E>> lines) {
        if (evalFile != null && evalSplit > 0) {
            throw new IllegalArgumentException("give held-out data either as a file (--eval) or as a share"
                    + " (--eval-split), not both");
        }
        if (!(evalSplit >= 0 && evalSplit < 1)) {
            throw new IllegalArgumentException("--eval-split " + evalSplit + " must lie in [0, 1): the share of the"
                    + " training examples held out");
        }
        List<E> train = lines.apply(bytes(trainFile), trainFile.toString());
        List<E> eval = evalFile == null ? List.of() : lines.apply(bytes(evalFile), evalFile.toString());
        String description = trainFile + " (" + train.size() + " examples)";
        if (evalFile != null) description += ", held out: " + evalFile + " (" + eval.size() + " examples)";
        if (evalSplit > 0) {
            if (train.size() < 2) {
                throw new IllegalArgumentException("--eval-split needs at least 2 examples; " + trainFile + " has "
                        + train.size());
            }
            int held = (int) Math.max(1, Math.min(train.size() - 1, Math.round(train.size() * evalSplit)));
            boolean[] isHeld = new boolean[train.size()];
            int[] order = shuffled(train.size(), new Random(seed ^ EVAL_SPLIT_SALT));
            for (int i = 0; i < held; i++) isHeld[order[i]] = true;
            List<E> kept = new ArrayList<>(), heldOut = new ArrayList<>();
            for (int i = 0; i < train.size(); i++) (isHeld[i] ? heldOut : kept).add(train.get(i));
            train = kept;
            eval = heldOut;
            description = trainFile + " (" + train.size() + " examples, " + eval.size() + " held out by --eval-split "
                    + evalSplit + ")";
        }
        return new EncoderData<>(train, eval, description);
    }

    /**
     * The {@code {"text", "label"}} lines of {@code utf8} (a JSONL file's bytes), named {@code name} in messages.
     *
     * @throws DataFormatException for the first line that is not one, or a file without any
     */
    public static List<LabelledText> labelledLines(byte[] utf8, String name) {
        return lines(utf8, name, CLASSIFY_FORM, (fields) -> {
            if (fields.has("text") && !fields.has("label") && fields.keys().size() == 1) {
                throw fields.error("the line has a \"text\" but no \"label\"; --objective classify needs every line"
                        + " labelled, as in " + CLASSIFY_FORM);
            }
            fields.expect(Set.of("text", "label"), "--objective classify", CLASSIFY_FORM);
            String label = fields.string("label");
            if (label.isBlank()) throw fields.error("\"label\" is blank; name the class, as in \"sports\"");
            return new LabelledText(fields.string("text"), label);
        });
    }

    /**
     * The {@code {"query", "positive"}} lines of {@code utf8} (a JSONL file's bytes), named {@code name} in messages.
     *
     * @throws DataFormatException for the first line that is not one, or a file without any
     */
    public static List<TextPair> pairLines(byte[] utf8, String name) {
        return lines(utf8, name, CONTRASTIVE_FORM, (fields) -> {
            fields.expect(Set.of("query", "positive"), "--objective contrastive", CONTRASTIVE_FORM);
            return new TextPair(fields.string("query"), fields.string("positive"));
        });
    }

    public List<E> train() {
        return train;
    }

    /** The held-out examples; empty when there are none. */
    public List<E> eval() {
        return eval;
    }

    /** Where the examples came from and how many there are, for messages. */
    public String description() {
        return description;
    }

    private interface LineReader<E> {
        E read(LineFields fields);
    }

    private static <E> List<E> lines(byte[] bytes, String name, String form, LineReader<E> reader) {
        List<E> examples = new ArrayList<>();
        int lineNumber = 0;
        for (int start = 0; start < bytes.length; ) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') end++;
            lineNumber++;
            int stop = end > start && bytes[end - 1] == '\r' ? end - 1 : end;
            byte[] line = Arrays.copyOfRange(bytes, start, stop);
            if (!isBlank(line)) examples.add(reader.read(fields(line, name, lineNumber, form)));
            start = end + 1;
        }
        if (examples.isEmpty()) {
            throw new DataFormatException(name,
                    (bytes.length == 0 ? "the file is empty" : "the file has only blank lines")
                    + "; each line must be " + form);
        }
        return examples;
    }

    private static LineFields fields(byte[] line, String file, int lineNumber, String form) {
        Object parsed;
        try {
            parsed = Json.parse(line, file + ":" + lineNumber, LINE_LIMITS);
        } catch (JsonException e) {
            String at = e.column() > 0 ? " at column " + e.column() : "";
            throw new DataFormatException(file, lineNumber, "not valid JSON" + at + ": " + e.detail());
        }
        if (!(parsed instanceof Map<?, ?> object)) {
            throw new DataFormatException(file, lineNumber, "the line is " + Json.describe(parsed)
                    + ", not a JSON object; each line must be " + form);
        }
        return new LineFields(object, file, lineNumber);
    }

    private static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("data file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read data file " + file + ": " + e.getMessage(), e);
        }
    }

    private static boolean isBlank(byte[] line) {
        for (byte b : line) if (b != ' ' && b != '\t' && b != '\r') return false;
        return true;
    }

    /** 0 … n−1 in a Fisher–Yates order drawn from {@code random}. */
    private static int[] shuffled(int n, Random random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }

    /** One line's object, read with messages that name the file, line and key. */
    private record LineFields(Map<?, ?> object, String file, int line) {
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

        /** Exactly the keys {@code wanted}, else an error saying which objective the line suits. */
        void expect(Set<String> wanted, String objective, String form) {
            Set<String> keys = keys();
            if (keys.equals(wanted)) return;
            String suits = keys.containsAll(Set.of("text", "label")) ? " (a classify line)"
                    : keys.containsAll(Set.of("query", "positive")) ? " (a contrastive pair)"
                    : keys.contains("input") || keys.contains("output") || keys.contains("input_ids")
                    ? " (causal LM data, for --objective causal-lm)" : "";
            throw error("the object has " + (keys.isEmpty() ? "no keys" : "keys " + keys) + suits + "; " + objective
                    + " needs each line to be " + form);
        }

        String string(String key) {
            Object value = object.get(key);
            if (!(value instanceof String text)) {
                throw error("'" + key + "' must be a string, but is " + Json.describe(value));
            }
            return text;
        }
    }
}
