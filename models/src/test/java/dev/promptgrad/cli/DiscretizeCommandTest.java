package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad discretize} on the tiny text model and the fixture's soft prompt: each token is the brute-force
 * nearest allowed token by cosine, and each reported loss is what {@code eval} gives for the same prompt (none, the
 * adapter, the tokens as {@code --hard-prompt}, the tokens' embeddings as an adapter), with the kept gain computed
 * from them; the table says the same.
 */
class DiscretizeCommandTest {

    @TempDir
    Path folder;

    @Test
    void everyLossIsWhatEvalGivesForThatPrompt() throws IOException {
        Path model = TinyTextModel.write(folder.resolve("tiny"));
        Path data = Files.writeString(folder.resolve("data.jsonl"),
                "{\"input\": \"ab c\", \"output\": \"a\"}\n{\"input\": \"c\", \"output\": \"b\"}\n{\"text\": \"abc ba\"}\n");
        Path result = folder.resolve("tokens.json");
        CliRun run = CliRun.of("discretize", "--model", model.toString(), "--prompt", TinyTextModel.ADAPTER.toString(),
                "--data", data.toString(), "--no-round-trip", "--out", result.toString(), "--json", "--device", "reference");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject file = Json.parseObjectFile(result, JsonLimits.upTo(1 << 20));
        assertEquals(file.map(), parse(run.out()).map());
        int[] ids = file.requireInts("ids");
        double[] cosines = file.requireDoubles("cosines");
        assertEquals(5, ids.length);

        PeftAdapter adapter = PeftAdapter.read(TinyTextModel.ADAPTER);
        float[] inPlace = new float[adapter.embeddings().length];
        try (Backend backend = new ReferenceBackend();
             LanguageModel lm = HuggingFaceCheckpoint.load(model, backend)) {
            float[] table = backend.download(lm.embeddingTable());
            int dim = lm.dim();
            for (int r = 0; r < ids.length; r++) {
                int best = -1;
                double bestCosine = Double.NEGATIVE_INFINITY;
                for (int v = 3; v < 32; v++) {   // no special tokens (0, 1, 2), nothing past the tokenizer's 32
                    double cosine = cosine(adapter.embeddings(), r * dim, table, v * dim, dim);
                    if (cosine > bestCosine) {
                        bestCosine = cosine;
                        best = v;
                    }
                }
                assertEquals(best, ids[r], "row " + r);
                assertEquals(bestCosine, cosines[r], 1e-6, "row " + r);
                System.arraycopy(table, ids[r] * dim, inPlace, r * dim, dim);
            }
        }
        Path tokensAdapter = folder.resolve("tokens-adapter");
        PeftAdapter.write(tokensAdapter, inPlace, 5, 16, new PeftAdapter.TuningConfig("tiny", 2, 4, "RANDOM", null, null));

        double none = evalLoss(model, data, 0);
        assertEquals(none, file.requireDouble("no_prompt_loss"), 1e-6);
        assertEquals(evalLoss(model, data, 1, "--prompt", TinyTextModel.ADAPTER.toString()),
                file.requireDouble("soft_loss"), 1e-6);
        assertEquals(evalLoss(model, data, 1, "--hard-prompt", result.toString()), file.requireDouble("hard_loss"), 1e-6);
        assertEquals(evalLoss(model, data, 1, "--prompt", tokensAdapter.toString()), file.requireDouble("in_place_loss"),
                1e-6);
        assertEquals((none - file.requireDouble("hard_loss")) / (none - file.requireDouble("soft_loss")),
                file.requireDouble("kept_gain"), 1e-12);

        CliRun table = CliRun.of("discretize", "--model", model.toString(), "--prompt", TinyTextModel.ADAPTER.toString(),
                "--data", data.toString(), "--no-round-trip", "--device", "reference");
        assertEquals(Main.OK, table.exitCode(), table.describe());
        List<String> lines = table.out().lines().toList();
        assertTrue(lines.get(0).startsWith("nearest tokens: \"") && lines.get(0).contains("(ids ["), table.out());
        assertTrue(lines.stream().anyMatch(l -> l.matches("soft prompt +\\d+\\.\\d{4} +100%")), table.out());
        assertTrue(lines.stream().anyMatch(l -> l.matches("tokens as a hard prompt +\\d+\\.\\d{4} +-?\\d+\\.\\d%")),
                table.out());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("tokens in the soft place")), "the tokenizer adds BOS: "
                + table.out());
    }

    private static double evalLoss(Path model, Path data, int column, String... prompt) {
        String[] base = {"eval", "--model", model.toString(), "--data", data.toString(), "--json", "--device", "reference"};
        String[] args = new String[base.length + prompt.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(prompt, 0, args, base.length, prompt.length);
        CliRun run = CliRun.of(args);
        assertEquals(Main.OK, run.exitCode(), run.describe());
        return parse(run.out().lines().toList().get(column)).requireDouble("loss");
    }

    private static double cosine(float[] a, int at, float[] b, int bt, int width) {
        double dot = 0, aa = 0, bb = 0;
        for (int c = 0; c < width; c++) {
            dot += (double) a[at + c] * b[bt + c];
            aa += (double) a[at + c] * a[at + c];
            bb += (double) b[bt + c] * b[bt + c];
        }
        return dot / Math.sqrt(aa * bb);
    }

    private static JsonObject parse(String line) {
        return JsonObject.of(Json.parse(line.strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
    }
}
