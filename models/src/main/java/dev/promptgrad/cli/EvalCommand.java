package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.evaluate.PromptEvaluation;
import dev.promptgrad.hard.PromptPlacement;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * {@code promptgrad eval}: the loss and perplexity of a model on a JSONL file, and for {"input", "output"} lines
 * the exact-match accuracy of greedy generations and (for a small label set) the verbalizer's label accuracy,
 * without the soft prompt and, given {@code --prompt}, with it, side by side so the gain shows. For an encoder
 * ({@code --model minilm}, a BERT folder or an .onnx file) it reports {@link EncoderEvaluation}'s accuracy instead.
 * Reads only.
 */
@Command(name = "eval", sortOptions = false,
        description = "Loss, perplexity and accuracy on a JSONL file, without and with a soft or hard prompt.")
final class EvalCommand implements Callable<Integer> {

    private static final JsonLimits LINE_LIMITS = JsonLimits.upTo(64L << 20);

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint; or an encoder (minilm, a BERT"
                    + " folder, an .onnx file) with {\"text\", \"label\"} or {\"query\", \"positive\"} data.")
    Path model;

    @Option(names = "--placement", paramLabel = "WHERE",
            description = "Encoders: before-cls or after-cls (default: the prompt's training run's, else before-cls).")
    String placement;

    @Option(names = "--label-text", paramLabel = "TEMPLATE",
            description = "Encoders: what a label is compared as, {label} replaced by it (default: the prompt's"
                    + " training run's, else \"{label}\").")
    String labelText;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    @Option(names = "--prompt", paramLabel = "ADAPTER_DIR",
            description = "A PEFT adapter folder: its soft prompt is evaluated beside the model without one.")
    Path prompt;

    @Mixin
    HardPromptOption hardPrompt;

    @Option(names = "--data", required = true, paramLabel = "FILE.jsonl",
            description = "Examples in the training data's forms (see docs/cli.md).")
    Path data;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "8",
            description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--json", description = "Print one JSON object per column (see docs/cli.md) instead of a table.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
        if (EncoderCatalog.isEncoder(model.toString())) {
            if (hardPrompt.given()) {
                throw new IllegalArgumentException("--hard-prompt is for causal LMs; " + model + " is an encoder");
            }
            try (Backend backend = common.openBackend(spec.commandLine().getErr())) {
                EncoderEvaluation.run(model.toString(), prompt, data, placement, labelText, json, backend,
                        spec.commandLine().getOut());
            }
            return Main.OK;
        }
        if (placement != null || labelText != null) {
            throw new IllegalArgumentException("--placement and --label-text are for encoders; " + model
                    + " is not one");
        }
        if (prompt != null && hardPrompt.given()) {
            throw new IllegalArgumentException("give --prompt or --hard-prompt, not both: each is evaluated beside no prompt");
        }
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage);
             Scope scope = new Scope(backend, "eval")) {
            LanguageModel lm = source.model();
            Tensor softPrompt = null;
            if (prompt != null) {
                PeftAdapter adapter = PeftAdapter.read(prompt).requireWidth(lm.dim(), lm.name());
                softPrompt = scope.of(adapter.embeddings(), adapter.virtualTokens(), adapter.width());  // (P, dim)
            }
            int[] hardIds = hardPrompt.given() ? hardPrompt.ids(source) : new int[0];
            int promptRows = softPrompt == null ? hardIds.length : softPrompt.dim(0);
            if (promptRows >= lm.contextLength()) {
                throw new IllegalArgumentException("the prompt has " + promptRows + " rows, but " + lm.name()
                        + " reads at most " + lm.contextLength() + " positions");
            }
            JsonlReader reader = new JsonlReader(source.tokenizer(), source.bosEos(), lm.vocabSize(),
                    lm.contextLength() - promptRows, "the model's context of " + lm.contextLength()
                    + " positions less the prompt's " + promptRows);
            List<Example> examples = reader.read(data);
            List<PromptEvaluation.Pair> pairs = pairs(source);
            int padId = source.tokenizer() != null ? source.tokenizer().pad().orElse(0) : 0;
            List<PromptEvaluation.Report> reports = new ArrayList<>();
            reports.add(PromptEvaluation.run(lm, null, examples, pairs, source.tokenizer(), source.stopTokens(), padId,
                    batchSize));
            if (softPrompt != null) {
                reports.add(PromptEvaluation.run(lm, softPrompt, examples, pairs, source.tokenizer(), source.stopTokens(),
                        padId, batchSize));
            }
            if (hardIds.length > 0) {
                PromptPlacement placement = HardPromptOption.placement(source);
                List<PromptEvaluation.Pair> prompted = pairs.stream().map(p -> new PromptEvaluation.Pair(
                        placement.insert(p.inputIds(), hardIds), p.output(), p.outputIds())).toList();
                reports.add(PromptEvaluation.run(lm, null, examples.stream().map(e -> placement.insert(e, hardIds))
                        .toList(), prompted, source.tokenizer(), source.stopTokens(), padId, batchSize));
            }
            print(reports);
        }
        return Main.OK;
    }

    /** The {"input", "output"} lines of the data file, tokenized as {@link JsonlReader} does (it checked them). */
    private List<PromptEvaluation.Pair> pairs(ModelSource source) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(data);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read data file " + data + ": " + e.getMessage(), e);
        }
        List<PromptEvaluation.Pair> pairs = new ArrayList<>();
        Tokenizer textTokenizer = source.tokenizer();
        int line = 0;
        for (int start = 0; start < bytes.length; ) {
            int end = start;
            while (end < bytes.length && bytes[end] != '\n') end++;
            line++;
            byte[] text = Arrays.copyOfRange(bytes, start, end);
            start = end + 1;
            if (new String(text, StandardCharsets.UTF_8).isBlank()) continue;
            if (!(Json.parse(text, data + ":" + line, LINE_LIMITS) instanceof Map<?, ?> object)
                    || !object.containsKey("input")) {
                continue;
            }
            String output = (String) object.get("output");
            int[] outputIds = textTokenizer.encode(output);
            if (textTokenizer.eos().isPresent()) {
                outputIds = Arrays.copyOf(outputIds, outputIds.length + 1);
                outputIds[outputIds.length - 1] = textTokenizer.eos().getAsInt();
            }
            int[] inputIds = source.bosEos().start(textTokenizer.encode((String) object.get("input")));
            pairs.add(new PromptEvaluation.Pair(inputIds, output, outputIds));
        }
        return pairs;
    }

    private void print(List<PromptEvaluation.Report> reports) {
        PrintWriter out = spec.commandLine().getOut();
        JsonWriter writer = JsonWriter.compact();
        if (json) {
            for (int i = 0; i < reports.size(); i++) {
                PromptEvaluation.Report r = reports.get(i);
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("prompt", i == 0 ? null : prompt != null ? prompt.toString() : hardPrompt.value);
                result.put("examples", r.examples());
                result.put("labelled_tokens", r.labelledTokens());
                result.put("loss", r.loss());
                result.put("perplexity", r.perplexity());
                result.put("pairs", r.pairs());
                result.put("exact_match", r.exactMatch());
                result.put("labels", r.labels());
                result.put("label_accuracy", r.labelAccuracy());
                out.println(writer.write(result));
            }
            out.flush();
            return;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(column("", "without prompt", reports.size() > 1 ? "with prompt" : null));
        rows.add(column("examples", reports, r -> String.valueOf(r.examples())));
        rows.add(column("labelled tokens", reports, r -> String.valueOf(r.labelledTokens())));
        rows.add(column("loss", reports, r -> format(r.loss())));
        rows.add(column("perplexity", reports, r -> format(r.perplexity())));
        PromptEvaluation.Report first = reports.get(0);
        if (first.pairs() != null) {
            rows.add(column("exact match (" + first.pairs() + " pairs)", reports, r -> format(r.exactMatch())));
        }
        if (first.labels() != null) {
            rows.add(column("label accuracy (" + first.labels().size() + " labels)", reports,
                    r -> format(r.labelAccuracy())));
        }
        int width = rows.stream().mapToInt(r -> r[0].length()).max().getAsInt() + 2;
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-" + width + "s%-16s", row[0], row[1]));
            if (row.length > 2 && row[2] != null) line.append(row[2]);
            out.println(line.toString().stripTrailing());
        }
        if (first.labels() != null) out.println("labels: " + writer.write(first.labels()));
        out.flush();
    }

    private static String[] column(String name, String without, String with) {
        return new String[] {name, without, with};
    }

    private static String[] column(String name, List<PromptEvaluation.Report> reports,
                                   Function<PromptEvaluation.Report, String> value) {
        return new String[] {name, value.apply(reports.get(0)), reports.size() > 1 ? value.apply(reports.get(1)) : null};
    }

    private static String format(double value) {
        return String.format(Locale.ROOT, "%.4f", value);
    }
}
