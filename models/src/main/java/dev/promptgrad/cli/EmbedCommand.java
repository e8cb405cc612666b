package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.embedding.Embedder;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.train.TrainingConfig;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad embed}: sentence embeddings from an encoder, with or without a soft prompt, printed one line per
 * text (values separated by spaces) or as a JSON array. The prompt's placement is the one its training run used
 * (read from the folder's training state) unless {@code --placement} says otherwise. Reads only; the work is
 * {@link Embedder}'s.
 */
@Command(name = "embed", sortOptions = false,
        description = "Print sentence embeddings of texts from an encoder (e.g. minilm), with a soft prompt or not.")
final class EmbedCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "MODEL",
            description = "minilm (all-MiniLM-L6-v2, from the classpath), a Hugging Face BERT folder, or an .onnx file"
                    + " with tokenizer.json beside it.")
    String model;

    @Option(names = "--prompt", paramLabel = "ADAPTER_DIR",
            description = "A PEFT adapter folder whose soft prompt goes in front.")
    Path prompt;

    @Option(names = "--placement", paramLabel = "WHERE",
            description = "before-cls or after-cls (default: the placement the prompt was trained with, else "
                    + "before-cls).")
    String placement;

    @Option(names = "--text", paramLabel = "TEXT", description = "A text to embed; repeat for several.")
    List<String> texts;

    @Option(names = "--file", paramLabel = "FILE",
            description = "A UTF-8 file of texts to embed, one per line (blank lines skipped).")
    Path file;

    @Option(names = "--json", description = "Print a JSON array of {\"text\", \"embedding\"} objects instead of lines.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        List<String> all = texts();
        if (!EncoderCatalog.isEncoder(model) && !Files.exists(Path.of(model))) {
            throw new IllegalArgumentException("--model " + model + " is neither a built-in encoder "
                    + EncoderCatalog.names()
                    + " nor an existing folder or .onnx file");
        }
        if (!EncoderCatalog.isEncoder(model)) {
            throw new IllegalArgumentException("--model " + model + " is not an encoder (a BERT folder with model_type"
                    + " \"bert\", an .onnx file, or " + EncoderCatalog.names()
                    + "); embed makes sentence embeddings with"
                    + " encoders only");
        }
        PeftAdapter adapter = prompt == null ? null : PeftAdapter.read(prompt);
        PromptPlacement where = placement != null ? PromptPlacement.parse(placement)
                : prompt == null ? TrainingConfig.Objective.DEFAULT_PLACEMENT
                : Embedder.placementOf(prompt).orElse(TrainingConfig.Objective.DEFAULT_PLACEMENT);
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             Encoder encoder = EncoderCatalog.load(model, backend);
             Embedder embedder = new Embedder(encoder, adapter, where)) {
            print(all, embedder.embed(all));
        }
        return Main.OK;
    }

    private List<String> texts() {
        List<String> all = new ArrayList<>(texts == null ? List.of() : texts);
        if (file != null) {
            try {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) if (!line.isBlank()) all.add(line);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read --file " + file + ": " + e.getMessage(), e);
            }
        }
        if (all.isEmpty()) {
            throw new IllegalArgumentException("nothing to embed: give --text TEXT (repeatable) or --file FILE");
        }
        return all;
    }

    private void print(List<String> all, float[][] vectors) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            List<Object> items = new ArrayList<>(all.size());
            for (int i = 0; i < all.size(); i++) {
                Map<String, Object> item = new LinkedHashMap<>();
                item.put("text", all.get(i));
                List<Object> values = new ArrayList<>(vectors[i].length);
                // the float's shortest digits, not its value widened to double
                for (float v : vectors[i]) values.add(Double.valueOf(Float.toString(v)));
                item.put("embedding", values);
                items.add(item);
            }
            out.println(JsonWriter.compact().write(items));
        } else {
            for (float[] vector : vectors) {
                StringBuilder line = new StringBuilder(vector.length * 12);
                for (int d = 0; d < vector.length; d++) {
                    if (d > 0) line.append(' ');
                    line.append(vector[d]);
                }
                out.println(line);
            }
        }
        out.flush();
    }
}
