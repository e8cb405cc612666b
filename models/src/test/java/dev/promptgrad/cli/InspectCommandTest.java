package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad inspect} on stories260K: rows copied from token embeddings find their token at cosine 1 and
 * the norm percentile of that token's row; a standard-normal row is far longer than any token; table statistics
 * are the sorted norms' min, median, p99 and max; bad flags fail with one line.
 */
class InspectCommandTest {
    private static final int[] COPIED = {461, 401, 7};

    @Test
    void copiedRowsFindTheirTokensAndRandomOnesStandOut(@TempDir Path folder) {
        String stories = SharedFiles.stories260K().toString();
        int dim = 64;
        float[] prompt = new float[4 * dim];
        double[] norms;
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend)) {
            float[] table = backend.download(model.embeddingTable());
            for (int r = 0; r < COPIED.length; r++) System.arraycopy(table, COPIED[r] * dim, prompt, r * dim, dim);
            norms = new double[model.vocabSize()];
            for (int v = 0; v < norms.length; v++) {
                double squares = 0;
                for (int c = 0; c < dim; c++) squares += (double) table[v * dim + c] * table[v * dim + c];
                norms[v] = Math.sqrt(squares);
            }
        }
        float[] random = SoftPromptFiles.random(1, dim, 1.0, 5);
        System.arraycopy(random, 0, prompt, COPIED.length * dim, dim);
        Path adapter = SoftPromptFiles.adapter(folder.resolve("adapter"), prompt, 4, dim);

        CliRun run = CliRun.of("inspect", "--model", stories, "--prompt", adapter.toString(), "--top", "3", "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject result = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        double[] sorted = norms.clone();
        Arrays.sort(sorted);
        JsonObject table = result.requireObject("table_norms");
        assertEquals(sorted[0], table.requireDouble("min"), 1e-6);
        assertEquals(sorted[511], table.requireDouble("max"), 1e-6);
        assertEquals((sorted[255] + sorted[256]) / 2, table.requireDouble("median"), 1e-6);
        assertTrue(table.requireDouble("p99") >= sorted[505] && table.requireDouble("p99") <= sorted[506]);

        List<Object> tokens = result.requireArray("virtual_tokens");
        assertEquals(4, tokens.size());
        double best = 0;
        for (int r = 0; r < 4; r++) {
            JsonObject token = JsonObject.of(tokens.get(r), "token " + r);
            List<Object> nearest = token.requireArray("nearest");
            assertEquals(3, nearest.size());
            Map<?, ?> first = (Map<?, ?>) nearest.get(0);
            double cosine = ((Number) first.get("cosine")).doubleValue();
            best += cosine;
            if (r < COPIED.length) {
                assertEquals((long) COPIED[r], first.get("id"), "row " + r + " finds the token it was copied from");
                assertEquals(1.0, cosine, 1e-6);
                double norm = norms[COPIED[r]];
                assertEquals(norm, token.requireDouble("norm"), 1e-5);
                long atMost = Arrays.stream(norms).filter(n -> n <= norm).count();
                assertEquals(100.0 * atMost / 512, token.requireDouble("norm_percentile"), 1e-9);
            } else {
                assertTrue(cosine < 0.9, "a random row is not a token: " + cosine);
                assertEquals(100.0, token.requireDouble("norm_percentile"), 0, "N(0, 1) in 64 dimensions has norm ≈ 8");
            }
            assertTrue(first.containsKey("text") && first.get("text") == null, "no tokenizer, no text");
        }
        assertEquals(best / 4, result.requireDouble("mean_max_cosine"), 1e-12);

        CliRun text = CliRun.of("inspect", "--model", stories, "--prompt", adapter.toString(), "--top", "2");
        assertEquals(Main.OK, text.exitCode(), text.describe());
        List<String> lines = text.out().lines().toList();
        assertTrue(lines.get(0).startsWith("embedding table row norms: min "), text.out());
        assertTrue(lines.get(1).startsWith("virtual token 0: norm "), text.out());
        assertTrue(lines.get(2).matches(" {2}\\+1\\.0000 +461"), text.out());
        assertEquals(1 + 4 * 3 + 1, lines.size(), text.out());
        assertTrue(lines.get(lines.size() - 1).startsWith("mean max-cosine "), text.out());
    }

    @Test
    void badArgumentsFailWithOneLine() {
        String stories = SharedFiles.stories260K().toString();
        CliRun zero = CliRun.of("inspect", "--model", stories, "--prompt", TinyTextModel.ADAPTER.toString(), "--top", "0");
        assertEquals(Main.FAILED, zero.exitCode(), zero.describe());
        assertEquals("error: --top must be at least 1, got 0", zero.err().strip());
        CliRun wide = CliRun.of("inspect", "--model", stories, "--prompt", TinyTextModel.ADAPTER.toString());
        assertEquals(Main.FAILED, wide.exitCode(), wide.describe());
        assertTrue(wide.err().contains("holds prompts 16 wide (token_dim), but stories260K.bin has hidden size 64"),
                wide.describe());
        CliRun missing = CliRun.of("inspect", "--model", stories);
        assertEquals(Main.USAGE, missing.exitCode(), missing.describe());
    }
}
