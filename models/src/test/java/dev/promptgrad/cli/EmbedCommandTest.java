package dev.promptgrad.cli;

import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.embedding.Embedder;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.testing.TinyBert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad embed} end to end: MiniLM's embeddings of two sentences against PyTorch's
 * (tools/minilm_reference.py);
 * with a soft prompt on the tiny BERT, the JSON form against {@link Embedder}, and the prompt's placement mattering;
 * refusals of a causal LM, an adapter of the wrong width and nothing to embed.
 */
class EmbedCommandTest {
    private static final Path GPT2_TINY = Path.of("src/test/resources/fixtures/gpt2-tiny");

    @TempDir
    Path folder;

    private static JsonObject minilmReference() throws IOException {
        try (InputStream in = EmbedCommandTest.class.getResourceAsStream("/fixtures/minilm/reference.json")) {
            return JsonObject.of(Json.parse(in.readAllBytes(), "reference.json", JsonLimits.upTo(1 << 20)),
                    "reference.json");
        }
    }

    @Test
    void minilmLinesMatchPyTorch() throws IOException {
        JsonObject reference = minilmReference();
        List<String> sentences = reference.requireStrings("sentences");
        List<Object> embeddings = reference.requireArray("embeddings");
        CliRun run = CliRun.of("embed", "--model", "minilm", "--text", sentences.get(1), "--text", sentences.get(4),
                "--threads", "2");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        String[] lines = run.out().split("\n");
        assertEquals(2, lines.length, run.describe());
        int[] which = {1, 4};
        for (int i = 0; i < 2; i++) {
            String[] values = lines[i].split(" ");
            assertEquals(384, values.length, "one line of 384 values per text");
            List<?> expected = (List<?>) embeddings.get(which[i]);
            for (int d = 0; d < 384; d++) {
                assertEquals(((Number) expected.get(d)).doubleValue(), Float.parseFloat(values[d]), 1e-5,
                        "sentence " + which[i] + " value " + d);
            }
        }
    }

    /** A random 3-row adapter 16 wide, for the tiny BERT. */
    private Path adapter(String name, int width) {
        Random random = new Random(3);
        float[] values = new float[3 * width];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        Path out = folder.resolve(name);
        PeftAdapter.write(out, values, 3, width, new PeftAdapter.TuningConfig("tiny-bert", 2, 4, "RANDOM", null, null,
                PeftAdapter.FEATURE_EXTRACTION));
        return out;
    }

    @Test
    void jsonWithAPromptMatchesTheEmbedderAndPlacementMatters() {
        Path model = TinyBert.folder(folder);
        Path prompt = adapter("prompt", 16);
        List<String> texts = List.of("the team score a goal", "bake the bread");
        float[][] expected;
        float[][] before;
        try (ReferenceBackend backend = new ReferenceBackend(); Encoder encoder = TinyBert.open(backend)) {
            PeftAdapter adapter = PeftAdapter.read(prompt);
            try (Embedder after = new Embedder(encoder, adapter, PromptPlacement.AFTER_CLS);
                 Embedder first = new Embedder(encoder, adapter, PromptPlacement.BEFORE_CLS)) {
                expected = after.embed(texts);
                before = first.embed(texts);
            }
        }
        CliRun run = CliRun.of("embed", "--model", model.toString(), "--prompt", prompt.toString(), "--placement",
                "after-cls", "--text", texts.get(0), "--text", texts.get(1), "--json", "--device", "reference");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        List<?> items = (List<?>) Json.parse(run.out(), "embed output", JsonLimits.upTo(1 << 20));
        assertEquals(2, items.size());
        double placementChange = 0;
        for (int i = 0; i < 2; i++) {
            JsonObject item = JsonObject.of(items.get(i), "embed output");
            assertEquals(texts.get(i), item.requireString("text"));
            double[] embedding = item.requireDoubles("embedding");
            assertEquals(16, embedding.length);
            for (int d = 0; d < 16; d++) {
                assertEquals(expected[i][d], (float) embedding[d], "text " + i + " value " + d
                        + ": the float's digits");
                placementChange = Math.max(placementChange, Math.abs(expected[i][d] - before[i][d]));
            }
        }
        assertTrue(placementChange > 1e-3, "after-cls and before-cls embed differently: " + placementChange);
    }

    @Test
    void helpListsEveryFlag() {
        CliRun run = CliRun.of("embed", "--help");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        for (String flag : List.of("--model=MODEL", "--prompt=ADAPTER_DIR", "--placement=WHERE", "--text=TEXT",
                "--file=FILE", "--json", "--device=DEVICE", "--threads=N")) {
            assertTrue(run.out().contains(flag), flag + " missing from " + run.describe());
        }
    }

    @Test
    void refusesACausalModelAWrongWidthAndNothingToEmbed() {
        CliRun causal = CliRun.of("embed", "--model", GPT2_TINY.toString(), "--text", "hello");
        assertEquals(Main.FAILED, causal.exitCode(), causal.describe());
        assertTrue(causal.err().contains("is not an encoder"), causal.describe());
        Path model = TinyBert.folder(folder);
        CliRun wide = CliRun.of("embed", "--model", model.toString(), "--prompt", adapter("wide", 8).toString(),
                "--text", "the goal", "--device", "reference");
        assertEquals(Main.FAILED, wide.exitCode(), wide.describe());
        assertTrue(wide.err().contains("8 wide") && wide.err().contains("hidden size 16"), wide.describe());
        CliRun empty = CliRun.of("embed", "--model", model.toString());
        assertEquals(Main.FAILED, empty.exitCode(), empty.describe());
        assertTrue(empty.err().contains("nothing to embed"), empty.describe());
        assertTrue(Files.isDirectory(model), "the model folder is untouched");
    }
}
