package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.prompt.KoboldSoftPrompt;
import dev.promptgrad.prompt.NpyArray;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad convert}: the gpt2-tiny fixture's PEFT prompt goes through KoboldAI's .zip, a .npy and back to
 * a PEFT folder unchanged; NumPy's and KoboldAI-style files import; a prompt of the wrong width, PEFT output
 * without a model and hostile archives fail with one line and write nothing.
 */
class ConvertCommandTest {
    private static final Path FIXTURES = Path.of("src/test/resources/fixtures/soft-prompts");
    private static final String MODEL = TinyTextModel.FIXTURE.toString();

    private static void ok(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertTrue(run.out().startsWith("wrote a soft prompt of "), run.describe());
    }

    @Test
    void roundTripThroughEveryFormat(@TempDir Path folder) throws IOException {
        PeftAdapter original = PeftAdapter.read(TinyTextModel.ADAPTER);
        Path zip = folder.resolve("prompt.zip");
        Path npy = folder.resolve("prompt.npy");
        Path peft = folder.resolve("adapter");
        ok("convert", "--from", TinyTextModel.ADAPTER.toString(), "--to", zip.toString(), "--model", MODEL,
                "--description", "fixture");
        KoboldSoftPrompt kobold = KoboldSoftPrompt.read(zip);
        assertArrayEquals(original.embeddings(), kobold.values(), 0f);
        assertEquals("prompt", kobold.name());
        assertEquals(List.of("gpt2-tiny"), kobold.supported());
        assertEquals("fixture", kobold.description());

        ok("convert", "--from", zip.toString(), "--to", npy.toString());
        NpyArray array = NpyArray.parse(Files.readAllBytes(npy), npy.toString());
        assertArrayEquals(new int[] {5, 16}, array.shape());
        assertArrayEquals(original.embeddings(), array.values(), 0f);

        ok("convert", "--from", npy.toString(), "--to", peft.toString(), "--model", MODEL);
        PeftAdapter back = PeftAdapter.read(peft);
        assertArrayEquals(original.embeddings(), back.embeddings(), 0f);
        assertEquals("PROMPT_TUNING", back.peftType());
        JsonObject config = JsonObject.of(Json.parse(Files.readString(peft.resolve("adapter_config.json")), "config",
                JsonLimits.upTo(1 << 20)), "config");
        assertEquals(2, config.requireInt("num_layers"));
        assertEquals(4, config.requireInt("num_attention_heads"));
        assertEquals(16, config.requireInt("token_dim"));
        assertEquals("CAUSAL_LM", config.requireString("task_type"));

        Path asKobold = folder.resolve("named");
        ok("convert", "--from", peft.toString(), "--to", asKobold.toString(), "--format", "kobold", "--name", "mine");
        assertEquals("mine", KoboldSoftPrompt.read(asKobold).name());
        Path fromUnnamed = folder.resolve("from-unnamed.npy");
        ok("convert", "--from", asKobold.toString(), "--to", fromUnnamed.toString());
        assertArrayEquals(original.embeddings(), NpyArray.parse(Files.readAllBytes(fromUnnamed), "npy").values(), 0f,
                "a .zip without its extension is recognised by its first bytes");
    }

    @Test
    void numpyAndKoboldFilesImport(@TempDir Path folder) {
        float[] expected = new float[48];
        for (int i = 0; i < expected.length; i++) expected[i] = i / 8f - 1;
        for (String name : List.of("lester-f32.npy", "f16.npy", "bf16-v2.npy", "kobold-deflated.zip")) {
            Path out = folder.resolve(name + ".adapter");
            ok("convert", "--from", FIXTURES.resolve(name).toString(), "--to", out.toString(), "--model", MODEL);
            assertArrayEquals(expected, PeftAdapter.read(out).embeddings(), 0f, name);
        }
    }

    @Test
    void refusalsWriteNothing(@TempDir Path folder) {
        Path out = folder.resolve("out.npy");
        assertEquals(TinyTextModel.ADAPTER + " holds prompts 16 wide, but stories260K.bin has hidden size 64; the prompt"
                + " was made for another model", failure("convert", "--from", TinyTextModel.ADAPTER.toString(), "--to",
                out.toString(), "--model", SharedFiles.stories260K().toString()));
        assertEquals("--format peft needs --model PATH: adapter_config.json records the base model's name, layers and"
                + " attention heads", failure("convert", "--from", FIXTURES.resolve("lester-f32.npy").toString(), "--to",
                folder.resolve("adapter").toString()));
        assertTrue(failure("convert", "--from", FIXTURES.resolve("kobold-escape.zip").toString(), "--to", out.toString())
                .contains("has an entry named '../tensor.npy', which points outside the archive"));
        assertTrue(failure("convert", "--from", FIXTURES.resolve("fortran.npy").toString(), "--to", out.toString())
                .contains("only C-ordered arrays"));
        assertTrue(failure("convert", "--from", folder.resolve("absent.npy").toString(), "--to", out.toString())
                .endsWith("absent.npy does not exist"));
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(folder.resolve("adapter")));
        CliRun badFormat = CliRun.of("convert", "--from", "a", "--to", "b", "--format", "onnx");
        assertEquals(Main.USAGE, badFormat.exitCode(), badFormat.describe());
    }

    private static String failure(String... args) {
        CliRun run = CliRun.of(args);
        assertEquals(Main.FAILED, run.exitCode(), run.describe());
        assertEquals("", run.out(), run.describe());
        assertEquals(1, run.err().lines().count(), run.describe());
        return run.err().substring("error: ".length()).strip();
    }
}
