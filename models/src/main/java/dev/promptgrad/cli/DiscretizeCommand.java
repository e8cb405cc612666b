package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.hard.CandidateFilter;
import dev.promptgrad.hard.PromptObjective;
import dev.promptgrad.hard.PromptPlacement;
import dev.promptgrad.hard.SoftPromptDiscretization;
import dev.promptgrad.hard.VocabularyIndex;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad discretize}: turns a trained soft prompt (a PEFT adapter folder) into its nearest allowed
 * tokens and reports how much of its gain survives on a data set — the loss without a prompt, with the soft
 * prompt, with the tokens as a hard prompt, and with the tokens' embeddings in the soft prompt's place — through
 * {@link SoftPromptDiscretization}. With {@code --out} it writes the tokens as a result file for
 * {@code --hard-prompt}.
 */
@Command(name = "discretize", sortOptions = false,
        description = "Turn a soft prompt into its nearest tokens; report how much of its gain survives.")
final class DiscretizeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    @Option(names = "--prompt", required = true, paramLabel = "ADAPTER_DIR", description = "The soft prompt: a PEFT"
            + " adapter folder.")
    Path prompt;

    @Option(names = "--data", required = true, paramLabel = "EVAL.jsonl",
            description = "Held-out examples in the forms of 'train' (see docs/cli.md).")
    Path data;

    @Option(names = "--ascii", description = "Only tokens whose text is printable ASCII (needs a tokenizer).")
    boolean ascii;

    @Option(names = "--no-round-trip", description = "Also allow tokens whose text does not encode back to themselves.")
    boolean noRoundTrip;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "8",
            description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--out", paramLabel = "RESULT.json", description = "Also write the tokens as a result file.")
    Path out;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) instead of a table.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage)) {
            LanguageModel lm = source.model();
            PeftAdapter adapter = PeftAdapter.read(prompt).requireWidth(lm.dim(), lm.name());
            int rows = adapter.virtualTokens();
            int room = lm.contextLength() - rows;
            if (room < 1) {
                throw new IllegalArgumentException("the prompt has " + rows + " rows, but " + lm.name()
                        + " reads at most " + lm.contextLength() + " positions");
            }
            Tokenizer text = source.tokenizer();
            List<Example> examples = new JsonlReader(text, source.bosEos(), lm.vocabSize(), room, "the model's context of "
                    + lm.contextLength() + " positions less the prompt's " + rows).read(data);
            PromptPlacement placement = HardPromptOption.placement(source);
            CandidateFilter filter = CandidateFilter.build(lm.vocabSize(), text, HardPromptFile.excludedIds(source),
                    new CandidateFilter.Settings(ascii, !noRoundTrip));
            int padId = text != null ? text.pad().orElse(0) : 0;
            SoftPromptDiscretization.Report report;
            try (VocabularyIndex index = new VocabularyIndex(backend, lm.embeddingTable(), filter);
                 PromptObjective objective = new PromptObjective(lm, placement, padId,
                         PromptObjective.DEFAULT_MEMORY_BUDGET)) {
                report = SoftPromptDiscretization.run(index, objective, adapter.embeddings(), rows, examples, padId,
                        batchSize);
            }
            Map<String, Object> file = HardPromptFile.prompt(source, placement, "discretize", report.ids(), filter);
            file.put("soft_prompt", prompt.toString());
            file.put("cosines", Arrays.stream(report.cosines()).boxed().toList());
            file.put("no_prompt_loss", report.noPrompt());
            file.put("soft_loss", report.soft());
            file.put("hard_loss", report.hard());
            file.put("in_place_loss", report.inPlace());
            file.put("kept_gain", finiteOrNull(report.keptGain()));
            file.put("kept_gain_in_place", finiteOrNull(report.keptGainInPlace()));
            if (out != null) HardPromptFile.write(out, file);
            print(report, text, placement, file);
        }
        return Main.OK;
    }

    private void print(SoftPromptDiscretization.Report report, Tokenizer text, PromptPlacement placement,
                       Map<String, Object> file) {
        PrintWriter printer = spec.commandLine().getOut();
        if (json) {
            printer.println(JsonWriter.compact().write(file));
            printer.flush();
            return;
        }
        printer.println("nearest tokens: " + HardPromptFile.show(text, report.ids())
                + (text == null ? "" : " (ids " + Arrays.toString(report.ids()) + ")"));
        double[] cosines = report.cosines();
        printer.println("cosine to each: " + String.join(" ", Arrays.stream(cosines)
                .mapToObj(c -> String.format(Locale.ROOT, "%.3f", c)).toList()));
        printer.println(String.format(Locale.ROOT, "%-26s%-10s%s", "", "loss", "gain kept"));
        printer.println(String.format(Locale.ROOT, "%-26s%.4f", "no prompt", report.noPrompt()));
        printer.println(String.format(Locale.ROOT, "%-26s%.4f    %s", "soft prompt", report.soft(), "100%"));
        printer.println(String.format(Locale.ROOT, "%-26s%.4f    %s", "tokens as a hard prompt", report.hard(),
                percent(report.keptGain())));
        if (placement.bos().isPresent()) {
            printer.println(String.format(Locale.ROOT, "%-26s%.4f    %s", "tokens in the soft place", report.inPlace(),
                    percent(report.keptGainInPlace())));
        }
        if (out != null) printer.println("written to " + out);
        printer.flush();
    }

    private static String percent(double share) {
        return Double.isFinite(share) ? String.format(Locale.ROOT, "%.1f%%", 100 * share) : "-";
    }

    private static Double finiteOrNull(double value) {
        return Double.isFinite(value) ? value : null;
    }
}
