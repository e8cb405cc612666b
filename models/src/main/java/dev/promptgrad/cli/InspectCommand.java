package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.encoder.BertModel;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInspection;
import dev.promptgrad.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad inspect}: each virtual token of a soft prompt beside the vocabulary — its nearest tokens by
 * cosine similarity and its norm against the embedding table's — and the mean best cosine, which shows how
 * little the nearest tokens explain a learned prompt (Khashabi et al.'s "waywardness"). For an encoder the table is
 * BERT's word embeddings. Reads only.
 */
@Command(name = "inspect", sortOptions = false,
        description = "Nearest vocabulary tokens and norms of a soft prompt's virtual tokens.")
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint, or an encoder (minilm, a BERT"
                    + " folder, an .onnx file).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin, to"
                    + " show each token's text (default: the model folder's own, if any).")
    Path tokenizer;

    @Option(names = "--prompt", required = true, paramLabel = "ADAPTER_DIR", description = "A PEFT adapter folder.")
    Path prompt;

    @Option(names = "--top", paramLabel = "K", defaultValue = "5",
            description = "Nearest tokens to show per virtual token (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) instead of text.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        if (top < 1) throw new IllegalArgumentException("--top must be at least 1, got " + top);
        if (EncoderCatalog.isEncoder(model.toString())) {
            try (Backend backend = common.openBackend(spec.commandLine().getErr());
                 Encoder encoder = EncoderCatalog.load(model.toString(), backend)) {
                BertModel bert = encoder.model();
                PeftAdapter adapter = PeftAdapter.read(prompt).requireWidth(bert.config().hiddenSize(), bert.name());
                print(PromptInspection.inspect(adapter.embeddings(), adapter.virtualTokens(), adapter.width(), backend,
                        bert.weights().get("embeddings.word_embeddings.weight"), top), encoder.tokenizer());
            }
            return Main.OK;
        }
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage)) {
            LanguageModel lm = source.model();
            PeftAdapter adapter = PeftAdapter.read(prompt).requireWidth(lm.dim(), lm.name());
            PromptInspection.Report report = PromptInspection.inspect(adapter.embeddings(), adapter.virtualTokens(),
                    adapter.width(), backend, lm.embeddingTable(), top);
            print(report, source.tokenizer());
        }
        return Main.OK;
    }

    private void print(PromptInspection.Report report, Tokenizer textTokenizer) {
        PrintWriter out = spec.commandLine().getOut();
        PromptInspection.NormStatistics norms = report.tableNorms();
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            Map<String, Object> table = new LinkedHashMap<>();
            table.put("min", norms.min());
            table.put("median", norms.median());
            table.put("p99", norms.p99());
            table.put("max", norms.max());
            result.put("table_norms", table);
            List<Object> tokens = new ArrayList<>();
            for (PromptInspection.VirtualToken token : report.tokens()) {
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("index", token.index());
                entry.put("norm", token.norm());
                entry.put("norm_percentile", token.normPercentile());
                List<Object> nearest = new ArrayList<>();
                for (PromptInspection.Neighbour neighbour : token.nearest()) {
                    Map<String, Object> near = new LinkedHashMap<>();
                    near.put("id", neighbour.id());
                    near.put("cosine", neighbour.cosine());
                    near.put("text", text(textTokenizer, neighbour.id()));
                    nearest.add(near);
                }
                entry.put("nearest", nearest);
                tokens.add(entry);
            }
            result.put("virtual_tokens", tokens);
            result.put("mean_max_cosine", report.meanMaxCosine());
            out.println(JsonWriter.compact().write(result));
            out.flush();
            return;
        }
        out.println(String.format(Locale.ROOT, "embedding table row norms: min %.4f, median %.4f, p99 %.4f, max %.4f",
                norms.min(), norms.median(), norms.p99(), norms.max()));
        for (PromptInspection.VirtualToken token : report.tokens()) {
            out.println(String.format(Locale.ROOT, "virtual token %d: norm %.4f (percentile %.1f of the table's)",
                    token.index(), token.norm(), token.normPercentile()));
            for (PromptInspection.Neighbour neighbour : token.nearest()) {
                String text = text(textTokenizer, neighbour.id());
                out.println(String.format(Locale.ROOT, "  %+.4f  %6d%s", neighbour.cosine(), neighbour.id(),
                        text == null ? "" : "  " + JsonWriter.compact().write(text)));
            }
        }
        out.println(String.format(Locale.ROOT, "mean max-cosine %.4f over %d virtual tokens (1 would mean each is a"
                + " vocabulary direction; learned prompts usually sit far from every token)",
                report.meanMaxCosine(), report.tokens().size()));
        out.flush();
    }

    /** The token's text, or null without a tokenizer or for an id the tokenizer does not have. */
    private static String text(Tokenizer textTokenizer, int id) {
        if (textTokenizer == null || id >= textTokenizer.vocabSize()) return null;
        return textTokenizer.decode(new int[] {id}, false);
    }
}
