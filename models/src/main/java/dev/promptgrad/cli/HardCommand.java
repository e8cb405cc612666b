package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.hard.AutoPrompt;
import dev.promptgrad.hard.CandidateFilter;
import dev.promptgrad.hard.Gcg;
import dev.promptgrad.hard.HardPromptMethod;
import dev.promptgrad.hard.HardPromptResult;
import dev.promptgrad.hard.HardPromptSearch;
import dev.promptgrad.hard.Pez;
import dev.promptgrad.hard.PromptObjective;
import dev.promptgrad.hard.PromptPlacement;
import dev.promptgrad.hard.VocabularyIndex;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tokenizer.Tokenizer;
import dev.promptgrad.train.TrainingData;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad hard}: searches for a hard prompt — real tokens, usable as text anywhere — with PEZ, GCG or
 * AutoPrompt (dev.promptgrad.hard), prints a line per step (step, loss, current prompt) and writes the best prompt's
 * ids, text, training and held-out loss and the no-prompt baseline to a JSON file that {@code eval} and
 * {@code generate} take as {@code --hard-prompt}. It turns flags into the library's settings; the search is
 * {@link HardPromptSearch}'s.
 */
@Command(name = "hard", sortOptions = false,
        description = "Find a hard prompt (real tokens) with gradients: PEZ, GCG or AutoPrompt.")
final class HardCommand implements Callable<Integer> {

    /** The search methods, written in lower case on the command line. */
    enum Method { PEZ, GCG, AUTOPROMPT }

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    @Option(names = "--data", required = true, paramLabel = "TRAIN.jsonl",
            description = "Training examples in the forms of 'train' (see docs/cli.md).")
    Path data;

    @Option(names = "--eval", paramLabel = "EVAL.jsonl",
            description = "Held-out examples that judge the best prompt (default: the training examples judge it).")
    Path eval;

    @Option(names = "--method", required = true, paramLabel = "METHOD",
            description = "pez, gcg or autoprompt (see docs/hard-prompts.md).")
    Method method;

    @Option(names = "--tokens", required = true, paramLabel = "N", description = "Tokens in the prompt.")
    int tokens;

    static final class Start {
        @Option(names = "--init", paramLabel = "TEXT",
                description = "Start from this text's tokens (no BOS), repeated or cut to --tokens; needs a tokenizer.")
        String text;

        @Option(names = "--init-ids", split = ",", paramLabel = "ID",
                description = "Start from these token ids, repeated or cut to --tokens.")
        int[] ids;
    }

    @ArgGroup
    Start start;

    @Option(names = "--steps", paramLabel = "S", defaultValue = "100", description = "Steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--seed", paramLabel = "X", defaultValue = "0",
            description = "Seeds the start, the order of the examples and the methods' draws (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "8",
            description = "Training examples per step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--top-k", paramLabel = "K",
            description = "gcg and autoprompt: candidate tokens per position (default: 256 for gcg, 64 for autoprompt).")
    Integer topK;

    @Option(names = "--candidates", paramLabel = "B",
            description = "gcg: single-token swaps scored per step (default: 512).")
    Integer candidates;

    @Option(names = "--optimizer", paramLabel = "NAME",
            description = "pez: adamw (lr 0.1, weight decay 0.1; the default) or adafactor (lr 0.3).")
    String optimizer;

    @Option(names = "--lr", paramLabel = "RATE", description = "pez: the learning rate (default 0.1 adamw, 0.3 adafactor).")
    Double lr;

    @Option(names = "--weight-decay", paramLabel = "W",
            description = "pez: the optimizer's weight decay (default 0.1 adamw, 1e-5 adafactor).")
    Double weightDecay;

    @Option(names = "--ascii", description = "Only tokens whose text is printable ASCII (needs a tokenizer).")
    boolean ascii;

    @Option(names = "--no-round-trip",
            description = "Also allow tokens whose text does not encode back to themselves.")
    boolean noRoundTrip;

    @Option(names = "--memory", paramLabel = "MIB", defaultValue = "1024",
            description = "Activation memory of one batched forward when scoring candidates (default: ${DEFAULT-VALUE}).")
    long memoryMib;

    @Option(names = "--out", required = true, paramLabel = "RESULT.json", description = "Where the result goes.")
    Path out;

    @Option(names = "--json", description = "Print the result as one JSON line (progress then goes to stderr).")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        checkFlags();
        PrintWriter progress = json ? spec.commandLine().getErr() : spec.commandLine().getOut();
        long started = System.nanoTime();
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage)) {
            LanguageModel lm = source.model();
            Tokenizer text = source.tokenizer();
            int room = lm.contextLength() - tokens;
            if (room < 1) {
                throw new IllegalArgumentException("--tokens " + tokens + " leaves no room for text in " + lm.name()
                        + ", which reads at most " + lm.contextLength() + " positions");
            }
            int[] initial = start != null && start.text != null ? source.requireTokenizer("--init").encode(start.text)
                    : start != null ? checkedIds(start.ids, lm.vocabSize()) : null;
            PromptPlacement placement = HardPromptOption.placement(source);
            JsonlReader reader = new JsonlReader(text, source.bosEos(), lm.vocabSize(), room,
                    "the model's context of " + lm.contextLength() + " positions less the prompt's " + tokens);
            TrainingData examples = TrainingData.read(reader, data, eval, 0, seed, room, placement.bos());
            CandidateFilter filter = CandidateFilter.build(lm.vocabSize(), text, HardPromptFile.excludedIds(source),
                    new CandidateFilter.Settings(ascii, !noRoundTrip));
            progress.println(method.name().toLowerCase(Locale.ROOT) + ": " + examples.description() + "; "
                    + filter.summary() + "; the prompt goes " + placement.describe());
            progress.flush();
            int padId = text != null ? text.pad().orElse(0) : 0;
            HardPromptResult result;
            try (VocabularyIndex index = new VocabularyIndex(backend, lm.embeddingTable(), filter);
                 PromptObjective objective = new PromptObjective(lm, placement, padId, memoryMib << 20)) {
                int[] first = initial == null ? HardPromptSearch.randomStart(filter, tokens, seed)
                        : HardPromptFile.repeated(initial, tokens, start.text != null ? "--init" : "--init-ids");
                HardPromptMethod search = switch (method) {
                    case PEZ -> new Pez(objective, index, first, pezSettings());
                    case GCG -> new Gcg(objective, index, filter, first, new Gcg.Settings(
                            topK != null ? topK : Gcg.Settings.PAPER.topK(),
                            candidates != null ? candidates : Gcg.Settings.PAPER.candidates()), seed);
                    case AUTOPROMPT -> new AutoPrompt(objective, index, filter, first, new AutoPrompt.Settings(
                            topK != null ? topK : AutoPrompt.Settings.DEFAULT.candidates()), seed);
                };
                result = HardPromptSearch.run(search, objective, examples.train(), examples.eval(),
                        new HardPromptSearch.Settings(steps, batchSize, seed), step -> {
                            progress.println(String.format(Locale.ROOT, "step %d/%d  loss %.4f  %s %.4f%s  %s",
                                    step.step(), step.steps(), step.loss(), examples.hasEval() ? "held-out" : "train",
                                    step.judgedLoss(), step.best() ? " (best)" : "", HardPromptFile.show(text, step.ids())));
                            progress.flush();
                        });
            }
            Map<String, Object> file = HardPromptFile.result(source, placement, result, filter, settings());
            HardPromptFile.write(out, file);
            print(result, text, (System.nanoTime() - started) / 1e9, file);
        }
        return Main.OK;
    }

    private void checkFlags() {
        if (tokens < 1) throw new IllegalArgumentException("--tokens must be at least 1, got " + tokens);
        if (steps < 0) throw new IllegalArgumentException("--steps must be at least 0, got " + steps);
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
        if (memoryMib < 1) throw new IllegalArgumentException("--memory must be at least 1 MiB, got " + memoryMib);
        if (method != Method.PEZ && (optimizer != null || lr != null || weightDecay != null)) {
            throw new IllegalArgumentException("--optimizer, --lr and --weight-decay apply to --method pez only");
        }
        if (method == Method.PEZ && (topK != null || candidates != null)) {
            throw new IllegalArgumentException("--top-k and --candidates apply to --method gcg and autoprompt only");
        }
        if (method == Method.AUTOPROMPT && candidates != null) {
            throw new IllegalArgumentException("--candidates applies to --method gcg only; autoprompt tries --top-k"
                    + " tokens at one position per step");
        }
    }

    private Pez.Settings pezSettings() {
        Pez.Settings base = switch (optimizer == null ? "adamw" : optimizer) {
            case "adamw" -> Pez.Settings.ADAMW;
            case "adafactor" -> Pez.Settings.ADAFACTOR;
            default -> throw new IllegalArgumentException("--optimizer " + optimizer + " is not adamw or adafactor");
        };
        return new Pez.Settings(base.optimizer(), lr != null ? lr : base.lr(),
                weightDecay != null ? weightDecay : base.weightDecay());
    }

    /** The method's settings as the result file records them. */
    private Map<String, Object> settings() {
        Map<String, Object> settings = new LinkedHashMap<>();
        settings.put("steps", steps);
        settings.put("seed", seed);
        settings.put("batch_size", batchSize);
        switch (method) {
            case PEZ -> {
                Pez.Settings pez = pezSettings();
                settings.put("optimizer", pez.optimizer().name().toLowerCase(Locale.ROOT));
                settings.put("lr", pez.lr());
                settings.put("weight_decay", pez.weightDecay());
            }
            case GCG -> {
                settings.put("top_k", topK != null ? topK : Gcg.Settings.PAPER.topK());
                settings.put("candidates", candidates != null ? candidates : Gcg.Settings.PAPER.candidates());
            }
            case AUTOPROMPT -> settings.put("top_k", topK != null ? topK : AutoPrompt.Settings.DEFAULT.candidates());
        }
        settings.put("ascii", ascii);
        settings.put("round_trip", !noRoundTrip);
        return settings;
    }

    private static int[] checkedIds(int[] ids, int vocab) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("--init-ids: id " + ids[i] + " (number " + (i + 1)
                        + ") is outside the model's vocabulary [0, " + vocab + ")");
            }
        }
        return ids;
    }

    private void print(HardPromptResult result, Tokenizer text, double seconds, Map<String, Object> file) {
        PrintWriter printer = spec.commandLine().getOut();
        if (json) {
            printer.println(JsonWriter.compact().write(file));
        } else {
            printer.println(String.format(Locale.ROOT, "best prompt (step %d of %d, %.1f s): %s", result.bestStep(),
                    result.steps(), seconds, HardPromptFile.show(text, result.ids())));
            String heldOut = result.hasEval() ? String.format(Locale.ROOT, "  held-out %.4f", result.evalLoss()) : "";
            String baselineHeldOut = result.hasEval()
                    ? String.format(Locale.ROOT, "  held-out %.4f", result.baselineEvalLoss()) : "";
            printer.println(String.format(Locale.ROOT, "with the prompt: train %.4f%s", result.trainLoss(), heldOut));
            printer.println(String.format(Locale.ROOT, "without prompt:  train %.4f%s", result.baselineTrainLoss(),
                    baselineHeldOut));
            printer.println("written to " + out);
        }
        printer.flush();
    }
}
