package dev.promptgrad.cli;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad grad}: the loss of a soft prompt over a whole JSONL file, as one right-padded batch, and
 * dLoss/dPrompt, exactly as PyTorch with PEFT's PROMPT_TUNING computes them (one mean cross-entropy over every
 * labelled next-token position). Writes the prompt and its gradient to one safetensors file, atomically, and
 * prints the loss. The teaching tool and the external check; it does not change the prompt (training does).
 */
@Command(name = "grad", sortOptions = false,
        description = "Loss of a soft prompt over a JSONL file (one batch) and dLoss/dPrompt, written as safetensors.")
final class GradCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    static final class PromptSource {
        @Option(names = "--prompt", required = true, paramLabel = "ADAPTER_DIR",
                description = "A PEFT adapter folder holding the soft prompt.")
        Path adapter;

        @Option(names = "--init", required = true, paramLabel = "SPEC",
                description = "A new prompt: random:SEED:N (N standard-normal rows), vocab:SEED:N (embeddings of N"
                        + " random token ids) or text:TEXT (embeddings of TEXT's tokens).")
        String init;
    }

    @ArgGroup(multiplicity = "1")
    PromptSource promptSource;

    @Option(names = "--data", required = true, paramLabel = "FILE.jsonl",
            description = "Examples, one JSON object a line: {\"input_ids\": [...], \"labels\": [...]}, {\"text\": ...}"
                    + " or {\"input\": ..., \"output\": ...}.")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "GRAD.safetensors",
            description = "Where to write prompt_embeddings and prompt_grad ([N, hidden], F32); replaced atomically.")
    Path out;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) instead of a sentence.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        Path outFolder = out.toAbsolutePath().getParent();
        if (outFolder == null || !Files.isDirectory(outFolder)) {
            throw new IllegalArgumentException("--out " + out + ": the folder " + outFolder + " does not exist");
        }
        if (Files.isDirectory(out)) throw new IllegalArgumentException("--out " + out + " is a folder; name a file");
        PromptInit init = promptSource.init == null ? null : PromptInit.parse(promptSource.init);
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage);
             Scope scope = new Scope(backend, "grad");
             Workspace workspace = new Workspace(backend, "grad")) {
            LanguageModel lm = source.model();
            float[] promptValues;                                      // (P, dim)
            int promptRows;
            if (init == null) {
                PeftAdapter adapter = PeftAdapter.read(promptSource.adapter).requireWidth(lm.dim(), lm.name());
                promptValues = adapter.embeddings();
                promptRows = adapter.virtualTokens();
            } else {
                Tensor table = lm.embeddingTable();                    // (vocab, dim)
                PromptInit.Initial initial = init.initialise(lm.dim(), lm.vocabSize(), source.tokenizer(),
                        id -> backend.download(table.select(id)));
                promptValues = initial.values();
                promptRows = initial.tokens();
            }
            if (promptRows >= lm.contextLength()) {
                throw new IllegalArgumentException("the prompt has " + promptRows + " rows, but " + lm.name()
                        + " reads at most " + lm.contextLength() + " positions, so no token would fit after it");
            }
            int maxTokens = lm.contextLength() - promptRows;
            JsonlReader reader = new JsonlReader(source.tokenizer(), source.bosEos(), lm.vocabSize(), maxTokens,
                    "the model's context of " + lm.contextLength() + " positions less the prompt's " + promptRows);
            List<Example> examples = reader.read(data);
            int labelled = examples.stream().mapToInt(Example::labelledPositions).sum();
            if (labelled == 0) {
                throw new IllegalArgumentException(data + ": every label is -100, so there is no loss; label at least"
                        + " one token");
            }
            int padId = source.tokenizer() != null ? source.tokenizer().pad().orElse(0) : 0;
            TokenBatch batch = RightPadding.batch(examples, padId);

            Tensor promptTensor = scope.of(promptValues, promptRows, lm.dim());                     // (P, dim)
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.parameter(promptTensor, "prompt_embeddings");
            Variable loss = lm.loss(tape, batch, prompt);                                              // scalar
            float lossValue = backend.download(loss.value())[0];
            float[] dPrompt = backend.download(tape.backward(loss).of(prompt));                       // (P, dim)
            tape.reset();
            if (!Float.isFinite(lossValue)) {
                throw new IllegalStateException("the loss is " + lossValue + "; nothing was written to " + out);
            }
            new SafetensorsWriter().metadata("format", "pt")
                    .add("prompt_embeddings", promptValues, promptRows, lm.dim())
                    .add("prompt_grad", dPrompt, promptRows, lm.dim())
                    .write(out);
            print(lossValue, labelled, examples.size(), promptRows, lm.dim(), dPrompt);
        }
        return Main.OK;
    }

    private void print(float loss, int labelled, int exampleCount, int promptRows, int dim, float[] dPrompt) {
        double squares = 0;
        for (float g : dPrompt) squares += (double) g * g;
        String lossText = JsonWriter.compact().write((double) loss);
        PrintWriter printer = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("loss", (double) loss);
            result.put("labelled_tokens", labelled);
            result.put("examples", exampleCount);
            result.put("prompt_tokens", promptRows);
            result.put("hidden", dim);
            result.put("grad_norm", Math.sqrt(squares));
            result.put("out", out.toString());
            printer.println(JsonWriter.compact().write(result));
        } else {
            printer.println("loss " + lossText + " over " + labelled + " labelled tokens in " + exampleCount + " examples");
            printer.println("wrote prompt_embeddings and prompt_grad [" + promptRows + ", " + dim + "] (gradient norm "
                    + JsonWriter.compact().write(Math.sqrt(squares)) + ") to " + out);
        }
        printer.flush();
    }
}
