package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.generate.BatchGenerator;
import dev.promptgrad.generate.BatchRequest;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Generation;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.generate.SamplingSettings;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tokenizer.Tokenizer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad generate}: continues a text or a list of token ids with the model, optionally behind a soft
 * prompt read from a PEFT adapter folder, with a KV cache. Prints the text (or, without a tokenizer, the new ids);
 * {@code --json} prints one object described in docs/cli.md. With {@code --batch} it reads many requests, each with
 * its own adapter, input and sampling settings, decodes them together ({@link BatchGenerator}) and prints one JSON
 * line per request. It does not train or write files.
 */
@Command(name = "generate", sortOptions = false,
        description = "Continue a text or token ids with the model, optionally behind a soft prompt.")
final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    @Option(names = "--prompt", paramLabel = "ADAPTER_DIR",
            description = "A PEFT adapter folder whose soft prompt goes before the input.")
    Path prompt;

    @Mixin
    HardPromptOption hardPrompt;

    static final class Input {
        @Option(names = "--text", required = true, paramLabel = "TEXT",
                description = "The text to continue (encoded with the tokenizer's BOS, if it adds one).")
        String text;

        @Option(names = "--input-ids", required = true, split = ",", paramLabel = "ID",
                description = "The token ids to continue, comma-separated, used exactly as given.")
        int[] ids;

        @Option(names = "--batch", required = true, paramLabel = "REQUESTS.jsonl",
                description = "Many requests, one JSON object a line (see docs/cli.md), decoded together; prints one"
                        + " JSON line per request.")
        Path batch;
    }

    @ArgGroup(multiplicity = "1")
    Input input;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "64",
            description = "Most tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "1.0",
            description = "0 for greedy (argmax); otherwise logits are divided by T before sampling (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0",
            description = "Sample among the K most likely tokens; 0 is off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0",
            description = "Sample among the most likely tokens whose probabilities reach P; 1 is off (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--repetition-penalty", paramLabel = "R", defaultValue = "1.0",
            description = "Hugging Face's repetition penalty; 1 is off (default: ${DEFAULT-VALUE}).")
    double repetitionPenalty;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seeds the sampler: the same seed gives the same tokens (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) instead of the text.")
    boolean json;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "8",
            description = "With --batch: how many requests are decoded together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        SamplingSettings sampling = new SamplingSettings(temperature, topK, topP, repetitionPenalty, seed);
        if (input.batch != null) return generateBatch(sampling);
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage);
             Scope scope = new Scope(backend, "generate")) {
            LanguageModel lm = source.model();
            Tensor softPrompt = null;
            if (prompt != null) {
                PeftAdapter adapter = PeftAdapter.read(prompt).requireWidth(lm.dim(), lm.name());
                softPrompt = scope.of(adapter.embeddings(), adapter.virtualTokens(), adapter.width());  // (P, dim)
            }
            int promptRows = softPrompt == null ? 0 : softPrompt.dim(0);
            int[] inputIds = inputIds(source);
            if (hardPrompt.given()) inputIds = HardPromptOption.placement(source).insert(inputIds, hardPrompt.ids(source));
            if (inputIds.length == 0 && promptRows == 0) {
                throw new IllegalArgumentException("--text \"" + input.text + "\" has no tokens and there is no --prompt;"
                        + " give some text to continue");
            }
            if (promptRows + inputIds.length >= lm.contextLength()) {
                throw new IllegalArgumentException("the input has " + inputIds.length + " tokens"
                        + (promptRows > 0 ? " after a prompt of " + promptRows : "") + ", which leaves no room to generate:"
                        + " the model reads at most " + lm.contextLength() + " positions");
            }
            GenerationSettings settings = new GenerationSettings(maxNewTokens, sampling, source.stopTokens());
            Generation generation;
            try (CachedDecoder decoder = new CachedDecoder(lm, softPrompt)) {
                generation = Generator.generate(decoder, inputIds, settings, null);
            }
            print(source.tokenizer(), inputIds, promptRows, generation);
        }
        return Main.OK;
    }

    private Integer generateBatch(SamplingSettings defaults) {
        if (prompt != null) {
            throw new IllegalArgumentException("--prompt does not combine with --batch; name each request's adapter in"
                    + " its \"prompt\" key");
        }
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be at least 1, got " + batchSize);
        List<GenerationRequests.Line> lines = GenerationRequests.read(input.batch);
        PrintWriter out = spec.commandLine().getOut();
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage);
             Scope scope = new Scope(backend, "generate --batch")) {
            LanguageModel lm = source.model();
            Map<Path, Tensor> adapters = new HashMap<>();   // each adapter folder read once: (P, dim)
            int[] hardIds = hardPrompt.given() ? hardPrompt.ids(source) : null;
            List<BatchRequest> requests = new ArrayList<>();
            for (GenerationRequests.Line line : lines) {
                String where = input.batch + ":" + line.number() + ": ";
                Tensor softPrompt = null;
                if (line.adapter() != null) {
                    softPrompt = adapters.get(line.adapter());
                    if (softPrompt == null) {
                        PeftAdapter adapter = PeftAdapter.read(line.adapter()).requireWidth(lm.dim(), lm.name());
                        softPrompt = scope.of(adapter.embeddings(), adapter.virtualTokens(), adapter.width());
                        adapters.put(line.adapter(), softPrompt);
                    }
                }
                int[] ids = line.ids() != null ? checkIds(line.ids(), lm.vocabSize(), where)
                        : source.bosEos().start(source.requireTokenizer(where + "\"text\"").encode(line.text()));
                if (hardIds != null) ids = HardPromptOption.placement(source).insert(ids, hardIds);
                int rows = softPrompt == null ? 0 : softPrompt.dim(0);
                if (ids.length == 0 && rows == 0) {
                    throw new IllegalArgumentException(where + "the text has no tokens and there is no prompt; give some"
                            + " text to continue");
                }
                if (rows + ids.length >= lm.contextLength()) {
                    throw new IllegalArgumentException(where + "the input has " + ids.length + " tokens after a prompt of "
                            + rows + ", which leaves no room to generate: the model reads at most " + lm.contextLength()
                            + " positions");
                }
                GenerationSettings settings;
                try {
                    SamplingSettings sampling = new SamplingSettings(
                            line.temperature() != null ? line.temperature() : defaults.temperature(), defaults.topK(),
                            defaults.topP(), defaults.repetitionPenalty(), line.seed() != null ? line.seed() : defaults.seed());
                    int limit = line.maxNewTokens() != null ? line.maxNewTokens() : maxNewTokens;
                    settings = new GenerationSettings(limit, sampling, source.stopTokens());
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + e.getMessage(), e);
                }
                requests.add(new BatchRequest(softPrompt, ids, settings));
            }
            for (int from = 0; from < requests.size(); from += batchSize) {
                List<BatchRequest> chunk = requests.subList(from, Math.min(requests.size(), from + batchSize));
                List<Generation> generations = BatchGenerator.generate(lm, chunk);
                for (int i = 0; i < chunk.size(); i++) {
                    GenerationRequests.Line line = lines.get(from + i);
                    BatchRequest request = chunk.get(i);
                    Map<String, Object> result = new LinkedHashMap<>();
                    result.put("prompt", line.adapter() == null ? null : line.adapter().toString());
                    result.putAll(result(source.tokenizer(), request.inputIds(),
                            request.prompt() == null ? 0 : request.prompt().dim(0), generations.get(i)));
                    out.println(JsonWriter.compact().write(result));
                }
                out.flush();
            }
        }
        return Main.OK;
    }

    private static int[] checkIds(int[] ids, int vocab, String where) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(where + "input_ids[" + i + "] = " + ids[i] + " is outside the model's"
                        + " vocabulary [0, " + vocab + ")");
            }
        }
        return ids;
    }

    private int[] inputIds(ModelSource source) {
        if (input.ids != null) {
            int vocab = source.model().vocabSize();
            for (int i = 0; i < input.ids.length; i++) {
                if (input.ids[i] < 0 || input.ids[i] >= vocab) {
                    throw new IllegalArgumentException("--input-ids: id " + input.ids[i] + " (number " + (i + 1)
                            + ") is outside the model's vocabulary [0, " + vocab + ")");
                }
            }
            return input.ids.clone();
        }
        Tokenizer textTokenizer = source.requireTokenizer("--text");
        return source.bosEos().start(textTokenizer.encode(input.text));
    }

    private void print(Tokenizer textTokenizer, int[] inputIds, int promptRows, Generation generation) {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> result = result(textTokenizer, inputIds, promptRows, generation);
        if (json) {
            out.println(JsonWriter.compact().write(result));
        } else if (result.get("text") != null) {
            out.println(result.get("text"));
        } else {
            StringBuilder line = new StringBuilder();
            for (int id : generation.tokens()) line.append(line.length() == 0 ? "" : " ").append(id);
            out.println(line);
        }
        out.flush();
    }

    /** The documented JSON fields of one generation (docs/cli.md); the texts are null without a tokenizer. */
    private static Map<String, Object> result(Tokenizer textTokenizer, int[] inputIds, int promptRows,
                                              Generation generation) {
        int[] generated = generation.tokens();
        String text = null, generatedText = null;
        if (textTokenizer != null) {
            int[] all = Arrays.copyOf(inputIds, inputIds.length + generated.length);
            System.arraycopy(generated, 0, all, inputIds.length, generated.length);
            text = textTokenizer.decode(all, true);
            String before = textTokenizer.decode(inputIds, true);
            generatedText = text.startsWith(before) ? text.substring(before.length()) : textTokenizer.decode(generated, true);
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("prompt_tokens", promptRows);
        result.put("input_ids", Arrays.stream(inputIds).boxed().toList());
        result.put("generated_ids", Arrays.stream(generated).boxed().toList());
        result.put("stop_reason", switch (generation.reason()) {
            case STOP_TOKEN -> "stop_token";
            case MAX_TOKENS -> "max_new_tokens";
            case CONTEXT_FULL -> "context_full";
        });
        result.put("text", text);
        result.put("generated_text", generatedText);
        return result;
    }
}
