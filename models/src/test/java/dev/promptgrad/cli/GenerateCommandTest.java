package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Decoder;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.model.Llama;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad generate} end to end on karpathy's stories260K (llama2.c .bin): greedy from BOS prints run.c's
 * reference ids; behind a PEFT adapter, the golden fixture models continue as PEFT's own generate does; --json
 * carries the documented fields; text without a tokenizer and bad ids fail with one line.
 */
class GenerateCommandTest {

    /** run.c at temperature 0 from BOS (token 1): the first 64 generated ids (shared/models/stories260K/README.md). */
    private static final int[] RUN_C_GREEDY = {
            461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13,
            431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 293, 430, 417, 363, 416, 315, 342,
            418, 424, 400, 442, 402, 303, 266, 299, 374, 466, 396, 303, 271, 362, 390, 469, 306, 469, 423, 314,
            347, 305, 356, 333};

    private static String stories() {
        Path bin = SharedFiles.stories260K();
        return bin.toString();
    }

    @Test
    void greedyFromBosPrintsRunCsIds() {
        CliRun run = CliRun.of("generate", "--model", stories(), "--input-ids", "1", "--max-new-tokens", "64",
                "--temperature", "0");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertEquals("", run.err());
        String expected = Arrays.stream(RUN_C_GREEDY).mapToObj(String::valueOf).collect(Collectors.joining(" "));
        assertEquals(expected + "\n", run.out());
    }

    /** fixtures/peft-generate.json: PEFT 0.21's greedy generate with transformers 5.17 (tools/hf_crosscheck.py). */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3"})
    void behindAnAdapterGreedyIdsArePeftsGenerate(String model) throws IOException {
        Path fixtures = Fixtures.folder(model).getParent();
        JsonObject peft = JsonObject.of(Json.parse(Files.readString(fixtures.resolve("peft-generate.json")),
                "peft-generate.json", JsonLimits.upTo(1 << 20)), "peft-generate.json");
        String input = Arrays.stream(peft.requireInts("input_ids")).mapToObj(String::valueOf)
                .collect(Collectors.joining(","));
        CliRun run = CliRun.of("generate", "--model", Fixtures.folder(model).toString(), "--prompt",
                Fixtures.folder(model).resolve("adapter").toString(), "--input-ids", input, "--max-new-tokens",
                String.valueOf(peft.requireInt("max_new_tokens")), "--temperature", "0", "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject result = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals(peft.requireObject("generated_ids").requireArray(model), result.requireArray("generated_ids"));
    }

    @Test
    void jsonOutputCarriesTheDocumentedFields() {
        CliRun run = CliRun.of("generate", "--model", stories(), "--input-ids", "1,461", "--max-new-tokens", "5",
                "--temperature", "0", "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject result = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals(List.of("prompt_tokens", "input_ids", "generated_ids", "stop_reason", "text", "generated_text"),
                List.copyOf(result.keys()));
        assertEquals(0, result.requireInt("prompt_tokens"));
        assertEquals(List.of(1L, 461L), result.requireArray("input_ids"));
        assertEquals(List.of(461L, 401L, 401L, 401L, 461L), result.requireArray("generated_ids"));  // run.c's ids 2..6
        assertEquals("max_new_tokens", result.requireString("stop_reason"));
        assertTrue(result.keys().contains("text") && result.get("text") == null);
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        String[] args = {"generate", "--model", stories(), "--input-ids", "1", "--max-new-tokens", "40", "--temperature", "1",
                "--top-k", "50", "--top-p", "0.9", "--repetition-penalty", "1.1", "--seed", "42"};
        CliRun first = CliRun.of(args);
        assertEquals(Main.OK, first.exitCode(), first.describe());
        assertEquals(first.out(), CliRun.of(args).out());
        args[args.length - 1] = "43";
        CliRun other = CliRun.of(args);
        assertTrue(!other.out().equals(first.out()), "seeds 42 and 43 gave the same 40 tokens: " + first.out());
    }

    @Test
    void aSoftPromptChangesTheContinuationAsTheLibraryDoes(@TempDir Path folder) {
        float[] prompt = new float[3 * 64];
        Random random = new Random(11);
        for (int i = 0; i < prompt.length; i++) prompt[i] = (float) (0.5 * random.nextGaussian());
        Path adapter = folder.resolve("adapter");
        writeAdapter(adapter, prompt, 3, 64);
        CliRun run = CliRun.of("generate", "--model", stories(), "--prompt", adapter.toString(), "--input-ids", "1",
                "--max-new-tokens", "12", "--temperature", "0", "--json");
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject result = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals(3, result.requireInt("prompt_tokens"));
        int[] expected;
        try (Backend backend = new ReferenceBackend();
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
             Scope scope = new Scope(backend, "prompt");
             Decoder decoder = new CachedDecoder(model, scope.of(prompt, 3, 64))) {
            expected = Generator.generate(decoder, new int[]{1}, GenerationSettings.greedy(12, 1), null).tokens();
        }
        assertEquals(Arrays.stream(expected).boxed().map(Integer::longValue).toList(), result.requireArray("generated_ids"));
        assertNotEquals(Arrays.stream(RUN_C_GREEDY, 0, 12).boxed().map(Integer::longValue).toList(),
                result.requireArray("generated_ids"), "the prompt made no difference");
    }

    @Test
    void anAdapterOfAnotherWidthIsRefused() {
        Path adapter = Path.of("src/test/resources/fixtures/gpt2-tiny/adapter");
        assertEquals("the adapter " + adapter + " holds prompts 16 wide (token_dim), but stories260K.bin has hidden size 64;"
                + " the adapter was made for another model",
                failure("generate", "--model", stories(), "--prompt", adapter.toString(), "--input-ids", "1"));
    }

    private static void writeAdapter(Path adapter, float[] prompt, int rows, int width) {
        try {
            Files.createDirectories(adapter);
            Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"PROMPT_TUNING\", \"num_virtual_tokens\": "
                    + rows + ", \"token_dim\": " + width + ", \"task_type\": \"CAUSAL_LM\"}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", prompt, rows, width)
                .write(adapter.resolve("adapter_model.safetensors"));
    }

    private static String failure(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertEquals(1, run.err().lines().count(), run.describe());
        assertTrue(run.err().startsWith("error: "), run.describe());
        return run.err().substring("error: ".length()).strip();
    }

    @Test
    void textWithoutATokenizerIsRefused() {
        assertEquals("--text needs a tokenizer, and " + stories() + " is a llama2.c checkpoint, which has none of its own;"
                + " pass --tokenizer tokenizer.bin or use token ids", failure("generate", "--model", stories(), "--text", "Once"));
    }

    @Test
    void idsOutsideTheVocabularyAreRefused() {
        assertEquals("--input-ids: id 512 (number 2) is outside the model's vocabulary [0, 512)",
                failure("generate", "--model", stories(), "--input-ids", "1,512"));
    }

    @Test
    void aTokenizerOfAnotherModelIsRefusedAtLoad() {
        Path gpt2Tokenizer = SharedFiles.find("tokenizers/gpt2/tokenizer.json");
        Path fixture = Fixtures.folder("gpt2-tiny");
        assertEquals("--tokenizer " + gpt2Tokenizer + " has 50257 ids, more than the 61 rows of the model's embeddings, so"
                        + " it belongs to another model; pass the model's own tokenizer",
                failure("generate", "--model", fixture.toString(), "--tokenizer", gpt2Tokenizer.toString(), "--text",
                        "Hello"));
    }

    @Test
    void aSamplingSettingOutOfRangeIsRefused() {
        assertEquals("top-p 1.5 must be in (0, 1]; 1 is off",
                failure("generate", "--model", stories(), "--input-ids", "1", "--top-p", "1.5"));
    }

    @Test
    void aMissingTokenizerFileIsNamed() {
        Path absent = Path.of("absent-tokenizer.bin").toAbsolutePath();
        assertEquals("--tokenizer " + absent + " does not exist",
                failure("generate", "--model", stories(), "--tokenizer", absent.toString(), "--text", "Once"));
    }
}
