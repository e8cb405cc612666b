package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad grad} end to end on the PyTorch golden fixture gpt2-tiny: the printed loss and the written
 * prompt gradient equal the fixture's, on both devices; and every bad input fails with one line, exit 1 and no file.
 */
class GradCommandTest {
    private static final Path MODEL = Path.of("src/test/resources/fixtures/gpt2-tiny");
    private static final Path ADAPTER = MODEL.resolve("adapter");

    @TempDir
    Path folder;

    /** golden.json's batch as JSONL: each sequence without its pads, labels as given (first token -100). */
    private Path goldenData() throws IOException {
        JsonObject golden = Json.parseObjectFile(MODEL.resolve("golden.json"), JsonLimits.upTo(1 << 24));
        List<Object> ids = golden.requireArray("input_ids");
        List<Object> labels = golden.requireArray("labels");
        int[] lengths = golden.requireInts("lengths");
        StringBuilder jsonl = new StringBuilder();
        for (int b = 0; b < lengths.length; b++) {
            jsonl.append("{\"input_ids\": ").append(prefix(ids.get(b), lengths[b]))
                    .append(", \"labels\": ").append(prefix(labels.get(b), lengths[b])).append("}\n");
        }
        Path data = folder.resolve("golden.jsonl");
        Files.writeString(data, jsonl);
        return data;
    }

    private static String prefix(Object row, int length) {
        return ((List<?>) row).subList(0, length).stream().map(String::valueOf).collect(Collectors.joining(", ", "[", "]"));
    }

    private static float[] golden(String tensor) {
        try (SafetensorsFile file = SafetensorsFile.open(MODEL.resolve("golden.safetensors"))) {
            return file.readFloats(tensor);
        }
    }

    private static final double GOLDEN_LOSS = 4.092692852020264;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cpu", "reference"})
    void lossAndGradientEqualPyTorchs(String device) throws IOException {
        Path out = folder.resolve("grad.safetensors");
        CliRun run = CliRun.of("grad", "--model", MODEL.toString(), "--prompt", ADAPTER.toString(),
                "--data", goldenData().toString(), "--out", out.toString(), "--device", device, "--threads", "2");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertEquals("", run.err());
        Matcher printed = Pattern.compile("loss (\\S+) over 14 labelled tokens in 3 examples\n"
                + "wrote prompt_embeddings and prompt_grad \\[5, 16\\] \\(gradient norm \\S+\\) to (.*)\n").matcher(run.out());
        assertTrue(printed.matches(), run.describe());
        assertEquals(GOLDEN_LOSS, Double.parseDouble(printed.group(1)), 1e-5);
        assertEquals(out.toString(), printed.group(2));
        try (SafetensorsFile written = SafetensorsFile.open(out)) {
            assertEquals(List.of("prompt_embeddings", "prompt_grad"), written.names());
            assertEquals(Map.of("format", "pt"), written.metadata());
            assertArrayEquals(new long[]{5, 16}, written.info("prompt_grad").shape());
            assertArrayEquals(golden("prompt"), written.readFloats("prompt_embeddings"));
            float[] expected = golden("prompt_grad");
            float[] actual = written.readFloats("prompt_grad");
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-5, "prompt_grad[" + i + "]");
        }
    }

    @Test
    void jsonOutputCarriesTheDocumentedFields() throws IOException {
        Path out = folder.resolve("grad.safetensors");
        CliRun run = CliRun.of("grad", "--model", MODEL.toString(), "--prompt", ADAPTER.toString(),
                "--data", goldenData().toString(), "--out", out.toString(), "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject result = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals(List.of("loss", "labelled_tokens", "examples", "prompt_tokens", "hidden", "grad_norm", "out"),
                List.copyOf(result.keys()));
        assertEquals(GOLDEN_LOSS, result.requireDouble("loss"), 1e-5);
        assertEquals(14, result.requireInt("labelled_tokens"));
        assertEquals(3, result.requireInt("examples"));
        assertEquals(5, result.requireInt("prompt_tokens"));
        assertEquals(16, result.requireInt("hidden"));
        double norm = 0;
        for (float g : golden("prompt_grad")) norm += (double) g * g;
        assertEquals(Math.sqrt(norm), result.requireDouble("grad_norm"), 1e-5);
        assertEquals(out.toString(), result.requireString("out"));
    }

    @Test
    void randomInitWritesThePromptItUsed() throws IOException {
        Path out = folder.resolve("grad.safetensors");
        CliRun run = CliRun.of("grad", "--model", MODEL.toString(), "--init", "random:3:2",
                "--data", goldenData().toString(), "--out", out.toString());
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertTrue(run.out().startsWith("loss "), run.describe());
        Random random = new Random(3);
        float[] expected = new float[2 * 16];
        for (int i = 0; i < expected.length; i++) expected[i] = (float) random.nextGaussian();
        try (SafetensorsFile written = SafetensorsFile.open(out)) {
            assertArrayEquals(expected, written.readFloats("prompt_embeddings"));
            assertArrayEquals(new long[]{2, 16}, written.info("prompt_grad").shape());
            double norm = 0;
            for (float g : written.readFloats("prompt_grad")) norm += (double) g * g;
            assertTrue(norm > 0 && Double.isFinite(norm), "gradient norm² " + norm);
        }
    }

    @Test
    void vocabInitCopiesTheEmbeddingsOfSampledIds() throws IOException {
        Path out = folder.resolve("grad.safetensors");
        CliRun run = CliRun.of("grad", "--model", MODEL.toString(), "--init", "vocab:9:3",
                "--data", goldenData().toString(), "--out", out.toString());
        assertEquals(Main.OK, run.exitCode(), run.describe());
        float[] wte;
        try (SafetensorsFile weights = SafetensorsFile.open(MODEL.resolve("model.safetensors"))) {
            wte = weights.readFloats("transformer.wte.weight");                                // (61, 16)
        }
        Random random = new Random(9);
        float[] expected = new float[3 * 16];
        for (int row = 0; row < 3; row++) System.arraycopy(wte, random.nextInt(61) * 16, expected, row * 16, 16);
        try (SafetensorsFile written = SafetensorsFile.open(out)) {
            assertArrayEquals(expected, written.readFloats("prompt_embeddings"));
        }
    }

    /** Runs grad with {@code data} and the fixture's adapter, expecting failure and no file in {@link #folder} but the data. */
    private String failure(String... extra) throws IOException {
        Path out = folder.resolve("grad.safetensors");
        Files.writeString(out, "the previous result");
        String[] base = {"grad", "--model", MODEL.toString(), "--out", out.toString()};
        String[] args = Stream.concat(Arrays.stream(base), Arrays.stream(extra)).toArray(String[]::new);
        CliRun run = CliRun.of(args);
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertEquals(1, run.err().lines().count(), run.describe());
        assertTrue(run.err().startsWith("error: "), run.describe());
        assertEquals("the previous result", Files.readString(out), "the old --out file must be untouched");
        try (Stream<Path> files = Files.list(folder)) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertFalse(names.stream().anyMatch(n -> n.endsWith(".tmp")), "temporary file left: " + names);
        }
        return run.err().substring("error: ".length()).strip();
    }

    private Path data(String content) throws IOException {
        Path data = folder.resolve("data.jsonl");
        Files.writeString(data, content);
        return data;
    }

    @Test
    void aMalformedLineIsReportedWithItsNumber() throws IOException {
        Path data = data("{\"input_ids\": [1, 2, 3]}\n{\"input_ids\": [1, 2,]}\n");
        assertEquals(data + ":2: not valid JSON at column 21: expected a value after ',' but found ']' (trailing commas are not allowed)",
                failure("--prompt", ADAPTER.toString(), "--data", data.toString()));
    }

    @Test
    void anIdOutsideTheVocabularyAndATooLongSequenceAreRefused() throws IOException {
        Path outside = data("{\"input_ids\": [1, 61]}\n");
        assertEquals(outside + ":1: input_ids[1] = 61 is outside the model's vocabulary [0, 61)",
                failure("--prompt", ADAPTER.toString(), "--data", outside.toString()));
        String ids = String.join(", ", java.util.Collections.nCopies(28, "7"));
        Path tooLong = data("{\"input_ids\": [" + ids + "]}\n");
        assertEquals(tooLong + ":1: the example has 28 tokens, more than the 27 that fit (the model's context of 32"
                + " positions less the prompt's 5); shorten it", failure("--prompt", ADAPTER.toString(), "--data", tooLong.toString()));
    }

    @Test
    void textWithoutATokenizerIsRefused() throws IOException {
        Path data = data("{\"text\": \"hello\"}\n");
        assertEquals(data + ":1: the line holds text ('text'), but no tokenizer was given to encode it; give a tokenizer,"
                + " or write the line as {\"input_ids\": [...], \"labels\": [...]}",
                failure("--prompt", ADAPTER.toString(), "--data", data.toString()));
    }

    @Test
    void missingFilesAreNamed() throws IOException {
        Path data = folder.resolve("absent.jsonl");
        assertEquals("data file " + data + " does not exist", failure("--prompt", ADAPTER.toString(), "--data", data.toString()));
        Path adapter = folder.resolve("no-adapter");
        assertEquals(adapter + " does not exist; a PEFT adapter is a folder holding adapter_config.json and"
                + " adapter_model.safetensors", failure("--prompt", adapter.toString(), "--data", data("{\"input_ids\": [1]}").toString()));
        Path nowhere = folder.resolve("missing").resolve("g.safetensors");
        CliRun noFolder = CliRun.of("grad", "--model", MODEL.toString(), "--prompt", ADAPTER.toString(), "--data",
                data("{\"input_ids\": [1]}").toString(), "--out", nowhere.toString());
        assertEquals(Main.FAILED, noFolder.exitCode());
        assertEquals("error: --out " + nowhere + ": the folder " + nowhere.getParent() + " does not exist\n", noFolder.err());
        Path model = folder.resolve("no-model");
        CliRun run = CliRun.of("grad", "--model", model.toString(), "--prompt", ADAPTER.toString(), "--data",
                data("{\"input_ids\": [1]}").toString(), "--out", folder.resolve("g.safetensors").toString());
        assertEquals(Main.FAILED, run.exitCode());
        assertEquals("error: --model " + model + " does not exist; give a Hugging Face model folder or a llama2.c .bin"
                + " checkpoint\n", run.err());
    }

    @Test
    void anEmptyDataFileIsRefused() throws IOException {
        Path data = data("");
        assertTrue(failure("--prompt", ADAPTER.toString(), "--data", data.toString())
                .startsWith(data + ": the file is empty; each line must be one of"));
    }

    @Test
    void aDataFileWithoutLabelsIsRefused() throws IOException {
        Path data = data("{\"input_ids\": [1, 2], \"labels\": [-100, -100]}\n");
        assertEquals(data + ": every label is -100, so there is no loss; label at least one token",
                failure("--prompt", ADAPTER.toString(), "--data", data.toString()));
    }

    @Test
    void anAdapterOfAnotherWidthIsRefusedNamingBothNumbers() throws IOException {
        Path adapter = Files.createDirectories(folder.resolve("wide"));
        Files.writeString(adapter.resolve("adapter_config.json"),
                "{\"peft_type\": \"PROMPT_TUNING\", \"num_virtual_tokens\": 2, \"token_dim\": 8}");
        new SafetensorsWriter().add("prompt_embeddings", new float[16], 2, 8).write(adapter.resolve("adapter_model.safetensors"));
        assertEquals("the adapter " + adapter + " holds prompts 8 wide (token_dim), but gpt2-tiny has hidden size 16;"
                + " the adapter was made for another model",
                failure("--prompt", adapter.toString(), "--data", data("{\"input_ids\": [1]}").toString()));
    }

    @Test
    void aBadInitIsRefused() throws IOException {
        assertEquals("prompt init 'random:1' is not one of random:SEED:N, vocab:SEED:N, text:TEXT",
                failure("--init", "random:1", "--data", data("{\"input_ids\": [1]}").toString()));
        assertEquals("the prompt has 32 rows, but gpt2-tiny reads at most 32 positions, so no token would fit after it",
                failure("--init", "vocab:1:32", "--data", data("{\"input_ids\": [1]}").toString()));
    }

    @Test
    void debugAddsTheStackTrace() throws IOException {
        Path data = data("nope\n");
        CliRun run = CliRun.of("grad", "--model", MODEL.toString(), "--prompt", ADAPTER.toString(), "--data", data.toString(),
                "--out", folder.resolve("g.safetensors").toString(), "--debug");
        assertEquals(Main.FAILED, run.exitCode());
        assertTrue(run.err().startsWith("error: " + data + ":1: not valid JSON"), run.describe());
        assertTrue(run.err().contains("at dev.promptgrad.data.JsonlReader"), run.describe());
    }
}
