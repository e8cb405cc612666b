package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.embedding.ClassifyObjective;
import dev.promptgrad.embedding.Embedder;
import dev.promptgrad.embedding.EncoderData;
import dev.promptgrad.embedding.LabelledText;
import dev.promptgrad.embedding.TextPair;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.train.Checkpoint;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingState;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code promptgrad eval} for an encoder: on {@code {"text", "label"}} lines, the share of texts whose embedding is
 * nearest their own label text's (the classify objective's accuracy); on {@code {"query", "positive"}} lines, the
 * share of queries whose nearest positive in the file is their own (recall@1). Without the prompt and, given one,
 * with it. The label text and placement are the prompt's training run's when its folder says, else the flags'.
 * Reads only.
 */
final class EncoderEvaluation {

    /** One column of the report. */
    private record Column(String prompt, int examples, double accuracy) {
    }

    private EncoderEvaluation() {
    }

    static void run(String model, Path promptFolder, Path data, String placementFlag, String labelTextFlag,
                    boolean json,
                    Backend backend, PrintWriter out) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(data);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read data file " + data + ": " + e.getMessage(), e);
        }
        TrainingConfig.Objective saved = savedObjective(promptFolder);
        PromptPlacement placement = placementFlag != null ? PromptPlacement.parse(placementFlag)
                : saved != null ? saved.placement() : TrainingConfig.Objective.DEFAULT_PLACEMENT;
        String labelText = labelTextFlag != null ? labelTextFlag
                : saved != null && saved.labelText() != null ? saved.labelText() : TrainingConfig.Objective.LABEL;
        PeftAdapter adapter = promptFolder == null ? null : PeftAdapter.read(promptFolder);
        String text = new String(bytes, StandardCharsets.UTF_8).stripLeading();
        boolean pairs = text.matches("(?s)\\{\\s*\"(query|positive)\".*");
        List<Column> columns = new ArrayList<>();
        List<String> labels = null;
        try (Encoder encoder = EncoderCatalog.load(model, backend)) {
            if (pairs) {
                List<TextPair> examples = EncoderData.pairLines(bytes, data.toString());
                PeftAdapter[] prompts = adapter == null ? new PeftAdapter[] {null} : new PeftAdapter[] {null, adapter};
                for (PeftAdapter prompt : prompts) {
                    try (Embedder embedder = new Embedder(encoder, prompt, placement)) {
                        columns.add(new Column(prompt == null ? null : promptFolder.toString(), examples.size(),
                                recallAtOne(embedder, examples)));
                    }
                }
            } else {
                List<LabelledText> examples = EncoderData.labelledLines(bytes, data.toString());
                ClassifyObjective classify = new ClassifyObjective(encoder,
                        EncoderData.of(examples, List.of(), data.toString()),
                        TrainingConfig.Objective.of(TrainingConfig.Objective.Kind.CLASSIFY, placement, null,
                                labelText));
                labels = classify.labels();
                columns.add(new Column(null, examples.size(), classify.accuracy(examples, null).fraction()));
                if (adapter != null) {
                    adapter.requireWidth(classify.width(), encoder.model().name());
                    columns.add(new Column(promptFolder.toString(), examples.size(),
                            classify.accuracy(examples, adapter.embeddings()).fraction()));
                }
            }
        }
        print(out, columns, pairs, labels, labelText, placement, json);
    }

    /** The encoder objective of the training run that wrote {@code folder} (or its parent, for best/), if any. */
    private static TrainingConfig.Objective savedObjective(Path folder) {
        if (folder == null) return null;
        Path absolute = folder.toAbsolutePath().normalize();
        for (Path candidate : new Path[] {absolute, absolute.getParent()}) {
            if (candidate != null && Files.isRegularFile(candidate.resolve(TrainingState.FILE))) {
                TrainingConfig.Objective objective = Checkpoint.savedConfig(candidate).objective();
                return objective.kind().encoder() ? objective : null;
            }
        }
        return null;
    }

    /** The share of queries whose most similar positive (among all of them) is their own. */
    private static double recallAtOne(Embedder embedder, List<TextPair> pairs) {
        float[][] queries = embedder.embed(pairs.stream().map(TextPair::query).toList());
        float[][] positives = embedder.embed(pairs.stream().map(TextPair::positive).toList());
        int hits = 0;
        for (int i = 0; i < queries.length; i++) {
            int best = 0;
            double bestCosine = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < positives.length; j++) {
                double cosine = Embedder.cosine(queries[i], positives[j]);
                if (cosine > bestCosine) {
                    bestCosine = cosine;
                    best = j;
                }
            }
            if (best == i) hits++;
        }
        return (double) hits / pairs.size();
    }

    private static void print(PrintWriter out, List<Column> columns, boolean pairs, List<String> labels,
                              String labelText,
                              PromptPlacement placement, boolean json) {
        String metric = pairs ? "recall_at_1" : "accuracy";
        if (json) {
            for (Column column : columns) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("prompt", column.prompt());
                result.put("examples", column.examples());
                result.put(metric, column.accuracy());
                if (labels != null) result.put("labels", labels);
                out.println(JsonWriter.compact().write(result));
            }
            out.flush();
            return;
        }
        String name = pairs ? "recall@1 (nearest positive)" : "accuracy (" + labels.size() + " labels)";
        int width = Math.max(name.length(), "examples".length()) + 2;
        out.println(String.format(Locale.ROOT, "%-" + width + "s%-16s%s", "", "without prompt",
                columns.size() > 1 ? "with prompt" : "").stripTrailing());
        out.println(String.format(Locale.ROOT, "%-" + width + "s%-16d%s", "examples", columns.get(0).examples(),
                columns.size() > 1 ? String.valueOf(columns.get(1).examples()) : "").stripTrailing());
        out.println(String.format(Locale.ROOT, "%-" + width + "s%-16s%s", name, format(columns.get(0).accuracy()),
                columns.size() > 1 ? format(columns.get(1).accuracy()) : "").stripTrailing());
        if (labels != null) {
            out.println("labels: " + JsonWriter.compact().write(labels) + ", compared as "
                    + JsonWriter.compact().write(labelText));
        }
        if (columns.size() > 1) out.println("prompt placement: " + placement.cliName());
        out.flush();
    }

    private static String format(double value) {
        return String.format(Locale.ROOT, "%.4f", value);
    }
}
