package dev.promptgrad.cli;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.HiddenStateHook;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad trace}: one forward and backward step of a soft prompt over a JSONL file (one right-padded
 * batch, as {@code grad}), printing each stage's shape — token embeddings, the prompt, prompt + tokens, every
 * block, the final norm, the logits, the loss — and how large dLoss/dHidden is at each block boundary on the
 * prompt's rows (and on all rows): the gradient that reaches the prompt through each frozen layer. It watches
 * the step through a {@link HiddenStateHook} and a tape {@link dev.promptgrad.autograd.GradientObserver}; training
 * uses neither. It changes and writes nothing.
 */
@Command(name = "trace", sortOptions = false,
        description = "Shapes and gradient norms at every stage of one soft-prompt step.")
final class TraceCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "A Hugging Face model folder or a llama2.c .bin checkpoint.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "tokenizer.json, tokenizer.model, vocab.json (with merges.txt) or llama2.c tokenizer.bin"
                    + " (default: the model folder's own).")
    Path tokenizer;

    @Option(names = "--prompt", required = true, paramLabel = "ADAPTER_DIR", description = "A PEFT adapter folder.")
    Path prompt;

    @Option(names = "--data", required = true, paramLabel = "FILE.jsonl",
            description = "Examples in the training data's forms (see docs/cli.md), taken as one batch.")
    Path data;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) instead of a table.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    /** One row of the trace; a norm is null where no gradient flows (constants) or none applies. */
    private record Stage(String name, int[] shape, Double promptRowsNorm, Double norm) {
    }

    /** Keeps the residual stream tensors the model shows, by block boundary. */
    private static final class Boundaries implements HiddenStateHook {
        final List<Tensor> blocks = new ArrayList<>();   // index l: the input to block l, then each block's output
        Tensor finalNorm;

        @Override
        public void block(int index, Tensor hidden) {
            blocks.add(hidden);
        }

        @Override
        public void finalNorm(Tensor hidden) {
            finalNorm = hidden;
        }
    }

    @Override
    public Integer call() {
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             ModelSource source = ModelSource.open(model, tokenizer, backend, weights.storage);
             Scope scope = new Scope(backend, "trace");
             Workspace workspace = new Workspace(backend, "trace")) {
            LanguageModel lm = source.model();
            PeftAdapter adapter = PeftAdapter.read(prompt).requireWidth(lm.dim(), lm.name());
            int promptRows = adapter.virtualTokens();
            if (promptRows >= lm.contextLength()) {
                throw new IllegalArgumentException("the prompt has " + promptRows + " rows, but " + lm.name()
                        + " reads at most " + lm.contextLength() + " positions");
            }
            JsonlReader reader = new JsonlReader(source.tokenizer(), source.bosEos(), lm.vocabSize(),
                    lm.contextLength() - promptRows, "the model's context of " + lm.contextLength()
                    + " positions less the prompt's " + promptRows);
            List<Example> examples = reader.read(data);
            int padId = source.tokenizer() != null ? source.tokenizer().pad().orElse(0) : 0;
            TokenBatch batch = RightPadding.batch(examples, padId);
            int[] targets = batch.nextTokenTargets(promptRows);
            if (Arrays.stream(targets).allMatch(t -> t == CrossEntropy.IGNORE)) {
                throw new IllegalArgumentException(data + ": every label is -100, so there is no loss; label at least one"
                        + " token");
            }

            Tape tape = new Tape(backend, workspace);
            Tensor promptValues = scope.of(adapter.embeddings(), promptRows, lm.dim());           // (P, dim)
            Variable promptVariable = tape.parameter(promptValues, "prompt_embeddings");
            Boundaries boundaries = new Boundaries();
            Variable logits = lm.logits(tape, batch, promptVariable, boundaries);                  // (B, P + T, vocab)
            // PyTorch (HF): loss = CrossEntropyLoss()(logits[..., :-1, :].view(-1, V), labels[..., 1:].view(-1))
            Variable loss = CrossEntropy.apply(tape, logits, targets);
            double lossValue = backend.download(loss.value())[0];

            List<Tensor> watched = new ArrayList<>(boundaries.blocks);
            watched.add(boundaries.finalNorm);
            watched.add(logits.value());
            double[][] norms = new double[watched.size()][];   // per watched tensor: {prompt rows, all rows}
            // A view of a watched tensor (a reshape that consumes it) is visited before the op that produced it;
            // the producer comes last in backward order and holds the whole gradient, so the last match wins.
            Gradients gradients = tape.backward(loss, (output, dOutput) -> {
                for (int i = 0; i < watched.size(); i++) {
                    Tensor value = output.value();
                    if (value.sameStorage(watched.get(i)) && value.sameShape(watched.get(i))) {
                        norms[i] = rowNorms(backend.download(dOutput), value.shape(), promptRows);
                    }
                }
            });
            double promptNorm = norm(backend.download(gradients.of(promptVariable)));
            tape.reset();

            int b = batch.size(), t = batch.length(), dim = lm.dim();
            List<Stage> stages = new ArrayList<>();
            stages.add(new Stage("token embeddings", new int[] {b, t, dim}, null, null));
            stages.add(new Stage("soft prompt", new int[] {promptRows, dim}, promptNorm, promptNorm));
            for (int i = 0; i < boundaries.blocks.size(); i++) {
                String name = i == 0 ? "prompt + tokens" + (lm.architecture().equals("gpt2") ? " + positions" : "")
                        + " (input to block 0)" : "after block " + (i - 1);
                stages.add(stage(name, boundaries.blocks.get(i), norms[i]));
            }
            stages.add(stage("final norm", boundaries.finalNorm, norms[watched.size() - 2]));
            stages.add(stage("logits", logits.value(), norms[watched.size() - 1]));
            stages.add(new Stage("loss", new int[0], null, null));
            print(stages, lossValue, examples.size(), promptRows);
        }
        return Main.OK;
    }

    private static Stage stage(String name, Tensor value, double[] norms) {
        return new Stage(name, value.shape(), norms == null ? null : norms[0], norms == null ? null : norms[1]);
    }

    /** The L2 norms of a [batch, P + T, width] gradient over the first P rows of every sequence, and over all. */
    private static double[] rowNorms(float[] gradient, int[] shape, int promptRows) {
        int rows = shape[1], width = shape[2];
        double prompt = 0, all = 0;
        for (int i = 0; i < gradient.length; i++) {
            double square = (double) gradient[i] * gradient[i];
            all += square;
            if (i / width % rows < promptRows) prompt += square;
        }
        return new double[] {Math.sqrt(prompt), Math.sqrt(all)};
    }

    private static double norm(float[] values) {
        double squares = 0;
        for (float v : values) squares += (double) v * v;
        return Math.sqrt(squares);
    }

    private void print(List<Stage> stages, double loss, int examples, int promptRows) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("loss", loss);
            result.put("examples", examples);
            result.put("prompt_tokens", promptRows);
            List<Object> rows = new ArrayList<>();
            for (Stage stage : stages) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("stage", stage.name());
                row.put("shape", Arrays.stream(stage.shape()).boxed().toList());
                row.put("grad_norm_prompt_rows", stage.promptRowsNorm());
                row.put("grad_norm", stage.norm());
                rows.add(row);
            }
            result.put("stages", rows);
            out.println(JsonWriter.compact().write(result));
            out.flush();
            return;
        }
        int width = stages.stream().mapToInt(s -> s.name().length()).max().getAsInt() + 2;
        String lossText = "scalar " + JsonWriter.compact().write(loss);
        int shapeWidth = Math.max(lossText.length(), stages.stream().mapToInt(s -> Arrays.toString(s.shape()).length())
                .max().getAsInt()) + 2;
        String columns = "%-" + width + "s%-" + shapeWidth + "s%-26s%s";
        out.println(String.format(Locale.ROOT, columns, "stage", "shape", "|dLoss/d·| prompt rows", "|dLoss/d·| all rows"));
        for (Stage stage : stages) {
            String shape = stage.name().equals("loss") ? lossText : Arrays.toString(stage.shape());
            out.println(String.format(Locale.ROOT, columns, stage.name(), shape,
                    stage.promptRowsNorm() == null ? "-" : String.format(Locale.ROOT, "%.6g", stage.promptRowsNorm()),
                    stage.norm() == null ? "-" : String.format(Locale.ROOT, "%.6g", stage.norm())).stripTrailing());
        }
        out.flush();
    }
}
