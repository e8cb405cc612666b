package dev.promptgrad.cli;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.SharedFiles;
import dev.promptgrad.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad eval} on the tiny text model: the loss with the prompt equals {@code grad}'s; exact match and
 * the verbalizer's label accuracy equal what the library's generator and LanguageModel.loss give pair by pair;
 * the table shows both columns; bad input fails with one line.
 */
class EvalCommandTest {
    private static final String[][] PAIRS = {{"ab c", "a"}, {"c", "b"}, {"ba", "a"}, {"cab", "b"}, {"b b", "a"}};

    @TempDir
    Path folder;
    Path model;
    Path data;

    @BeforeEach
    void files() throws IOException {
        model = TinyTextModel.write(folder.resolve("model"));
        StringBuilder lines = new StringBuilder();
        for (String[] pair : PAIRS) lines.append("{\"input\": \"").append(pair[0]).append("\", \"output\": \"")
                .append(pair[1]).append("\"}\n");
        lines.append("{\"text\": \"abc\"}\n");
        data = Files.writeString(folder.resolve("data.jsonl"), lines.toString());
    }

    @Test
    void jsonReportsMatchTheLibraryPairByPair() {
        CliRun run = CliRun.of("eval", "--model", model.toString(), "--prompt", TinyTextModel.ADAPTER.toString(), "--data",
                data.toString(), "--json", "--batch-size", "4", "--device", "reference");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<String> lines = run.out().lines().toList();
        assertEquals(2, lines.size(), run.describe());
        JsonObject without = parse(lines.get(0));
        JsonObject with = parse(lines.get(1));
        assertEquals(List.of("prompt", "examples", "labelled_tokens", "loss", "perplexity", "pairs", "exact_match", "labels",
                "label_accuracy"), List.copyOf(with.keys()));
        assertNull(without.get("prompt"));
        assertEquals(TinyTextModel.ADAPTER.toString(), with.requireString("prompt"));
        assertEquals(List.of("a", "b"), with.requireArray("labels"));

        Path out = folder.resolve("grad.safetensors");
        CliRun grad = CliRun.of("grad", "--model", model.toString(), "--prompt", TinyTextModel.ADAPTER.toString(), "--data",
                data.toString(), "--out", out.toString(), "--json", "--device", "reference");
        JsonObject gradResult = parse(grad.out());
        assertEquals(gradResult.requireDouble("loss"), with.requireDouble("loss"), 1e-6, "eval's loss is grad's loss");
        assertEquals(gradResult.requireInt("labelled_tokens"), with.requireInt("labelled_tokens"));
        assertEquals(Math.exp(with.requireDouble("loss")), with.requireDouble("perplexity"), 1e-9);
        assertEquals(with.requireInt("labelled_tokens") - 1, without.requireInt("labelled_tokens"),
                "without a prompt the text line's first token (BOS) is not scored");

        try (Backend backend = new ReferenceBackend();
             ModelSource source = ModelSource.open(model, null, backend);
             Scope scope = new Scope(backend, "prompt");
             Workspace workspace = new Workspace(backend, "check")) {
            PeftAdapter adapter = PeftAdapter.read(TinyTextModel.ADAPTER);
            Tensor prompt = scope.of(adapter.embeddings(), adapter.virtualTokens(), adapter.width());
            for (JsonObject report : List.of(without, with)) {
                Tensor used = report == with ? prompt : null;
                double[] expected = expectedAccuracies(source, used, new Tape(backend, workspace));
                assertEquals(expected[0], report.requireDouble("exact_match"), 0, "exact match, prompt " + report.get("prompt"));
                assertEquals(expected[1], report.requireDouble("label_accuracy"), 0, "labels, prompt " + report.get("prompt"));
                assertEquals(PAIRS.length, report.requireInt("pairs"));
                assertEquals(PAIRS.length + 1, report.requireInt("examples"));
            }
        }
    }

    /** Exact match by generating each pair alone; label accuracy by LanguageModel.loss of each (input, label). */
    private static double[] expectedAccuracies(ModelSource source, Tensor prompt, Tape tape) {
        LanguageModel lm = source.model();
        Tokenizer tokenizer = source.tokenizer();
        int eos = tokenizer.eos().getAsInt();
        int matches = 0, right = 0;
        for (String[] pair : PAIRS) {
            int[] input = source.bosEos().start(tokenizer.encode(pair[0]));
            int outputTokens = tokenizer.encode(pair[1]).length;
            try (CachedDecoder decoder = new CachedDecoder(lm, prompt)) {
                int[] generated = Generator.generate(decoder, input,
                        GenerationSettings.greedy(outputTokens + 1, source.stopTokens()), null).tokens();
                boolean known = Arrays.stream(generated).allMatch(id -> id < tokenizer.vocabSize());
                if (known && tokenizer.decode(generated, true).strip().equals(pair[1])) matches++;
            }
            String best = null;
            double bestNll = Double.POSITIVE_INFINITY;
            for (String label : new String[] {"a", "b"}) {
                int[] output = tokenizer.encode(label);
                int[] ids = Arrays.copyOf(input, input.length + output.length + 1);
                System.arraycopy(output, 0, ids, input.length, output.length);
                ids[ids.length - 1] = eos;
                int[] labels = ids.clone();
                Arrays.fill(labels, 0, input.length, -100);
                tape.reset();
                Variable p = prompt == null ? null : tape.constant(prompt, "prompt");
                Variable loss = lm.loss(tape, TokenBatch.of(new int[][] {ids}, null, new int[][] {labels}), p);
                double nll = lm.backend().download(loss.value())[0] * (output.length + 1);
                if (nll < bestNll) {
                    bestNll = nll;
                    best = label;
                }
            }
            if (best.equals(pair[1])) right++;
        }
        return new double[] {(double) matches / PAIRS.length, (double) right / PAIRS.length};
    }

    @Test
    void theTableShowsBothColumns() {
        CliRun run = CliRun.of("eval", "--model", model.toString(), "--prompt", TinyTextModel.ADAPTER.toString(), "--data",
                data.toString());
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<String> lines = run.out().lines().toList();
        assertTrue(lines.get(0).contains("without prompt") && lines.get(0).contains("with prompt"), run.out());
        assertTrue(lines.get(1).matches("examples +6 +6"), run.out());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("exact match (5 pairs)")), run.out());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("label accuracy (2 labels)")), run.out());
        assertEquals("labels: [\"a\",\"b\"]", lines.get(lines.size() - 1));

        CliRun alone = CliRun.of("eval", "--model", model.toString(), "--data", data.toString());
        assertEquals(Main.OK, alone.exitCode(), alone.describe());
        assertTrue(alone.out().lines().allMatch(l -> !l.contains("with prompt")), alone.out());
        assertEquals(run.out().lines().skip(1).map(l -> l.replaceAll("\\s+\\S+$", "")).toList().subList(0, 4),
                alone.out().lines().skip(1).toList().subList(0, 4), "the first column is the model alone");
    }

    @Test
    void badInputFailsWithOneLine() throws IOException {
        Path empty = Files.writeString(folder.resolve("empty.jsonl"), "\n");
        assertEquals(empty + ": the file has only blank lines; each line must be one of {\"input_ids\": [...], \"labels\":"
                + " [...]}, {\"text\": \"...\"} or {\"input\": \"...\", \"output\": \"...\"}",
                failure("eval", "--model", model.toString(), "--data", empty.toString()));
        assertEquals("the adapter " + TinyTextModel.ADAPTER + " holds prompts 16 wide (token_dim), but stories260K.bin has"
                + " hidden size 64; the adapter was made for another model", failure("eval", "--model",
                SharedFiles.stories260K().toString(), "--prompt", TinyTextModel.ADAPTER.toString(), "--data", data.toString()));
        assertEquals("--batch-size must be at least 1, got 0",
                failure("eval", "--model", model.toString(), "--data", data.toString(), "--batch-size", "0"));
        Path firstOnly = Files.writeString(folder.resolve("first.jsonl"), "{\"input_ids\": [5], \"labels\": [5]}\n");
        assertEquals("no token of the data is labelled (without a prompt the first token of a sequence is never scored);"
                + " there is no loss to report", failure("eval", "--model", model.toString(), "--data", firstOnly.toString()));
    }

    private static JsonObject parse(String line) {
        return JsonObject.of(Json.parse(line.strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
    }

    private static String failure(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertEquals(1, run.err().lines().count(), run.describe());
        return run.err().substring("error: ".length()).strip();
    }
}
