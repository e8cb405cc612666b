package dev.promptgrad.train;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The numbers of a training run, one {@link Entry} per optimizer step (and one for step 0 when the starting
 * prompt is evaluated), kept in memory and written as {@code metrics.jsonl}: one compact JSON object a line,
 * keys {@code step}, {@code epoch}, {@code loss}, {@code lr}, {@code grad_norm}, {@code tokens_per_s},
 * {@code skipped} on a step skipped for a non-finite loss or gradient, and, on evaluated steps,
 * {@code eval_loss} (absent keys: not measured at that step). The whole file is
 * rewritten atomically at each checkpoint, so it never ends in half a line. It does not draw (see {@link LossCurve}).
 */
public final class MetricsLog {
    public static final String FILE = "metrics.jsonl";
    private static final JsonLimits LINE_LIMITS = JsonLimits.upTo(1 << 20);

    /**
     * One step's numbers; null where not measured.
     *
     * @param step            optimizer steps done (0 = the starting prompt)
     * @param epoch           passes over the training data done, fractional
     * @param loss            the step's training loss (before its update)
     * @param evalLoss        the held-out loss after the step
     * @param lr              the rate the step used
     * @param gradNorm        the gradient's global L2 norm before clipping
     * @param tokensPerSecond real (unpadded) tokens the step fed forward and backward, per second of its time
     * @param skipped         why the step changed nothing (its loss or gradient norm was NaN or infinite), or null
     */
    public record Entry(int step, double epoch, Double loss, Double evalLoss, Double lr, Double gradNorm,
                        Double tokensPerSecond, String skipped) {

        /** A step that was not skipped. */
        public Entry(int step, double epoch, Double loss, Double evalLoss, Double lr, Double gradNorm,
                     Double tokensPerSecond) {
            this(step, epoch, loss, evalLoss, lr, gradNorm, tokensPerSecond, null);
        }

        Entry withEvalLoss(double value) {
            return new Entry(step, epoch, loss, value, lr, gradNorm, tokensPerSecond, skipped);
        }

        Map<String, Object> toJson() {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("step", step);
            json.put("epoch", epoch);
            if (loss != null) json.put("loss", loss);
            if (lr != null) json.put("lr", lr);
            if (gradNorm != null) json.put("grad_norm", gradNorm);
            if (tokensPerSecond != null) json.put("tokens_per_s", tokensPerSecond);
            if (skipped != null) json.put("skipped", skipped);
            if (evalLoss != null) json.put("eval_loss", evalLoss);
            return json;
        }

        static Entry fromJson(JsonObject json) {
            return new Entry(json.requireInt("step"), json.requireDouble("epoch"), optional(json, "loss"),
                    optional(json, "eval_loss"), optional(json, "lr"), optional(json, "grad_norm"),
                    optional(json, "tokens_per_s"), json.stringOr("skipped", null));
        }

        private static Double optional(JsonObject json, String key) {
            return json.has(key) ? json.requireDouble(key) : null;
        }
    }

    private final List<Entry> entries = new ArrayList<>();

    public void add(Entry entry) {
        if (!entries.isEmpty() && entry.step() <= last().step()) {
            throw new IllegalArgumentException("metrics for step " + entry.step() + " come after step "
                    + last().step());
        }
        entries.add(entry);
    }

    /** Records {@code evalLoss} on the entry of {@code step}, adding one if the step has none. */
    public void addEvalLoss(int step, double epoch, double evalLoss) {
        if (!entries.isEmpty() && last().step() == step) {
            entries.set(entries.size() - 1, last().withEvalLoss(evalLoss));
        } else {
            add(new Entry(step, epoch, null, evalLoss, null, null, null));
        }
    }

    public List<Entry> entries() {
        return Collections.unmodifiableList(entries);
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    public Entry last() {
        return entries.get(entries.size() - 1);
    }

    /** The text of {@code metrics.jsonl}: one line per entry. */
    public String text() {
        StringBuilder text = new StringBuilder();
        JsonWriter writer = JsonWriter.compact();
        for (Entry entry : entries) text.append(writer.write(entry.toJson())).append('\n');
        return text.toString();
    }

    /** Replaces {@code file} with {@link #text()}, atomically. */
    public void write(Path file) {
        try {
            AtomicFile.write(file, text().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@code file}, keeping the entries up to step {@code lastStep}: a checkpoint's metrics may run
     * ahead of its training state if the run stopped between writing the two. A missing file reads as empty.
     *
     * @throws IllegalArgumentException naming the file and line of an entry that cannot be read
     */
    public static MetricsLog read(Path file, int lastStep) {
        MetricsLog log = new MetricsLog();
        if (!Files.exists(file)) return log;
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) continue;
            String where = file + ":" + (i + 1);
            try {
                Entry entry = Entry.fromJson(JsonObject.of(Json.parse(lines.get(i), where, LINE_LIMITS), where));
                if (entry.step() <= lastStep) log.add(entry);
            } catch (JsonException | IllegalArgumentException e) {
                throw new IllegalArgumentException(where + ": not a metrics line (" + e.getMessage() + ")", e);
            }
        }
        return log;
    }
}
