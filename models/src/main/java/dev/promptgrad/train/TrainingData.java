package dev.promptgrad.train;

import dev.promptgrad.data.DataFormatException;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.JsonlReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;

/**
 * The examples of a training run: the training set, and the held-out set it is evaluated on (a second file,
 * a seeded share of the training file, or none). Reading applies the training rules on top of
 * {@link JsonlReader}'s: an example must have a scored token, and one longer than the maximum length loses
 * tokens from the left of its input (after a leading BOS) but never a scored one. A fingerprint of the final
 * examples lets a resumed run check that it sees the same data. It does not batch or shuffle.
 */
public final class TrainingData {
    private static final long EVAL_SPLIT_SALT = 0x5EEDL;

    private final List<Example> train;
    private final List<Example> eval;
    private final String description;

    private TrainingData(List<Example> train, List<Example> eval, String description) {
        if (train.isEmpty()) throw new IllegalArgumentException("training needs at least one example");
        this.train = List.copyOf(train);
        this.eval = List.copyOf(eval);
        this.description = description;
    }

    /** Examples made in code; {@code eval} may be empty. */
    public static TrainingData of(List<Example> train, List<Example> eval) {
        String heldOut = eval.isEmpty() ? "" : ", " + eval.size() + " held out";
        return new TrainingData(train, eval, train.size() + " examples" + heldOut);
    }

    /**
     * Reads the training file and, if given, the eval file; or holds out {@code evalSplit} of the training
     * examples (at least one, chosen by {@code seed}; 0 for none).
     *
     * @param maxLength the most tokens an example may keep (at most the reader's limit)
     * @param bos       the BOS id a truncated example keeps in front, if the tokenizer adds one
     * @throws DataFormatException naming the file and line of the first example that cannot be used
     */
    public static TrainingData read(JsonlReader reader, Path trainFile, Path evalFile, double evalSplit, long seed,
                                    int maxLength, OptionalInt bos) {
        if (evalFile != null && evalSplit > 0) {
            throw new IllegalArgumentException("give held-out data either as a file (--eval) or as a share"
                    + " (--eval-split), not both");
        }
        if (!(evalSplit >= 0 && evalSplit < 1)) {
            throw new IllegalArgumentException("--eval-split " + evalSplit + " must lie in [0, 1): the share of the"
                    + " training examples held out");
        }
        List<Example> train = prepared(reader, trainFile, maxLength, bos);
        List<Example> eval = evalFile == null ? List.of() : prepared(reader, evalFile, maxLength, bos);
        String description = trainFile + " (" + train.size() + " examples)";
        if (evalFile != null) description += ", held out: " + evalFile + " (" + eval.size() + " examples)";
        if (evalSplit > 0) {
            if (train.size() < 2) {
                throw new IllegalArgumentException("--eval-split needs at least 2 examples; " + trainFile + " has "
                        + train.size());
            }
            int held = (int) Math.max(1, Math.min(train.size() - 1, Math.round(train.size() * evalSplit)));
            boolean[] isHeld = new boolean[train.size()];
            int[] order = EpochShuffle.order(train.size(), seed ^ EVAL_SPLIT_SALT, 0);
            for (int i = 0; i < held; i++) isHeld[order[i]] = true;
            List<Example> kept = new ArrayList<>(), heldOut = new ArrayList<>();
            for (int i = 0; i < train.size(); i++) (isHeld[i] ? heldOut : kept).add(train.get(i));
            train = kept;
            eval = heldOut;
            description = trainFile + " (" + train.size() + " examples, " + eval.size() + " held out by --eval-split "
                    + evalSplit + ")";
        }
        return new TrainingData(train, eval, description);
    }

    public List<Example> train() {
        return train;
    }

    /** The held-out examples; empty when there are none. */
    public List<Example> eval() {
        return eval;
    }

    public boolean hasEval() {
        return !eval.isEmpty();
    }

    /** Where the examples came from and how many there are, for messages. */
    public String description() {
        return description;
    }

    /** SHA-256 over the training examples then the held-out ones (ids and labels, in order), in hex. */
    public String fingerprint() {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        for (List<Example> set : List.of(train, eval)) {
            digest.update(intBytes(set.size()));
            for (Example example : set) {
                digest.update(intBytes(example.length()));
                for (int id : example.inputIds()) digest.update(intBytes(id));
                for (int label : example.labels()) digest.update(intBytes(label));
            }
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /**
     * The distinct scored token sequences of the training examples, in order of first appearance, without a
     * trailing {@code eos}: for {input, output} lines, the outputs' tokens. The class labels of Lester et al.'s
     * init.
     */
    public List<int[]> distinctLabels(OptionalInt eos) {
        List<int[]> labels = new ArrayList<>();
        for (Example example : train) {
            int[] scored = Arrays.stream(example.labels()).filter(label -> label != Example.IGNORE).toArray();
            boolean endsWithEos = eos.isPresent() && scored.length > 0 && scored[scored.length - 1] == eos.getAsInt();
            int[] label = endsWithEos ? Arrays.copyOf(scored, scored.length - 1) : scored;
            if (label.length > 0 && labels.stream().noneMatch(known -> Arrays.equals(known, label))) labels.add(label);
        }
        return labels;
    }

    /** The examples of {@code file} with every one scored and at most {@code maxLength} tokens. */
    private static List<Example> prepared(JsonlReader reader, Path file, int maxLength, OptionalInt bos) {
        List<Example> read = reader.read(file);
        int[] lines = exampleLines(file);
        List<Example> examples = new ArrayList<>(read.size());
        for (int i = 0; i < read.size(); i++) {
            Example example = read.get(i);
            int line = i < lines.length ? lines[i] : 0;
            if (example.labelledPositions() == 0) {
                throw new DataFormatException(file.toString(), line, "every label is -100, so the example teaches"
                        + " nothing; label at least one token or remove the line");
            }
            examples.add(example.length() > maxLength ? truncated(example, maxLength, bos, file, line) : example);
        }
        return examples;
    }

    /** Drops tokens from the left of the input, after a leading BOS, until {@code maxLength} remain. */
    private static Example truncated(Example example, int maxLength, OptionalInt bos, Path file, int line) {
        int[] ids = example.inputIds(), labels = example.labels();
        int front = bos.isPresent() && ids[0] == bos.getAsInt() ? 1 : 0;
        int drop = ids.length - maxLength;
        for (int i = front; i < front + drop; i++) {
            if (labels[i] != Example.IGNORE) {
                throw new DataFormatException(file.toString(), line, "the example has " + ids.length + " tokens, more"
                        + " than --max-length " + maxLength + ", and cutting its input from the left would drop scored"
                        + " token " + i + "; raise --max-length or shorten the output");
            }
        }
        int[] keptIds = new int[maxLength], keptLabels = new int[maxLength];
        System.arraycopy(ids, 0, keptIds, 0, front);
        System.arraycopy(labels, 0, keptLabels, 0, front);
        System.arraycopy(ids, front + drop, keptIds, front, maxLength - front);
        System.arraycopy(labels, front + drop, keptLabels, front, maxLength - front);
        return new Example(keptIds, keptLabels);
    }

    /** The 1-based line number of each example: the lines that are not blank, as {@link JsonlReader} counts them. */
    private static int[] exampleLines(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read data file " + file + ": " + e.getMessage(), e);
        }
        List<Integer> lines = new ArrayList<>();
        int line = 0;
        for (int start = 0; start < bytes.length; ) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') end++;
            line++;
            boolean blank = true;
            for (int i = start; i < end && blank; i++) blank = bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\r';
            if (!blank) lines.add(line);
            start = end + 1;
        }
        return lines.stream().mapToInt(Integer::intValue).toArray();
    }

    private static byte[] intBytes(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array();
    }
}
