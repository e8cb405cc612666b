package dev.promptgrad.checkpoint;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.Gpt2;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.Llama;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.safetensors.SafetensorsDType;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.safetensors.TensorSource;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiPredicate;
import java.util.function.UnaryOperator;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Hugging Face folder reader on rewritten copies of the golden fixtures' folders: every refusal with its
 * message (missing tensor, wrong shape, unexpected tensor, unknown model_type, no weights), and the variants it
 * must accept (GPT-2 names without the prefix, sharded checkpoints, BF16 and F16 tensors).
 */
class HuggingFaceCheckpointTest {

    private static final TokenBatch BATCH = TokenBatch.of(new int[][] {{3, 14, 15, 9, 26}, {5, 35, 8, 0, 0}},
            new int[][] {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}, null);

    /** A tensor as read from a fixture: values and shape. */
    private record Stored(float[] values, int[] shape) {
    }

    @Test
    void loadsEachFixtureAsItsArchitecture() {
        try (Backend backend = new ReferenceBackend()) {
            try (LanguageModel gpt2 = HuggingFaceCheckpoint.load(fixture("gpt2-tiny"), backend)) {
                assertInstanceOf(Gpt2.class, gpt2);
                assertEquals("gpt2", gpt2.architecture());
                assertEquals(61, gpt2.vocabSize());
                assertEquals(32, gpt2.contextLength());
                assertEquals("gpt2-tiny", gpt2.name());
            }
            try (LanguageModel llama = HuggingFaceCheckpoint.load(fixture("llama-tiny-gqa"), backend)) {
                Llama l = assertInstanceOf(Llama.class, llama);
                assertEquals(2, l.config().kvHeads());
                assertEquals(8, l.config().headSize());
                assertEquals(500000.0, l.config().ropeTheta());
                assertTrue(l.weights().contains("lm_head.weight"));
            }
            assertEquals(0, backend.liveBytes(), "closing a model frees its weights");
        }
    }

    @Test
    void missingTensorIsNamedWithItsShapeAndFile(@TempDir Path dir) throws IOException {
        Path folder = rewrite("llama-tiny", dir, (name, t) -> !name.equals("model.layers.1.mlp.up_proj.weight"), null);
        CheckpointException e = refused(folder);
        assertEquals(folder.resolve("model.safetensors") + ": tensor 'model.layers.1.mlp.up_proj.weight' is missing; "
                + folder.resolve("config.json") + " needs it with shape [40, 16]", e.getMessage());
    }

    @Test
    void wrongShapeNamesTheTensorBothShapesAndTheFile(@TempDir Path dir) throws IOException {
        Path folder = rewrite("gpt2-tiny", dir, (name, t) -> true, null);
        Map<String, Stored> tensors = read(folder.resolve("model.safetensors"));
        tensors.put("transformer.h.0.mlp.c_fc.weight", new Stored(new float[64 * 16], new int[] {64, 16}));
        write(tensors, folder.resolve("model.safetensors"), SafetensorsDType.F32);
        CheckpointException e = refused(folder);
        assertEquals(folder.resolve("model.safetensors") + ": tensor 'transformer.h.0.mlp.c_fc.weight' has shape"
                + " [64, 16] but " + folder.resolve("config.json") + " needs [16, 64]", e.getMessage());
    }

    @Test
    void unexpectedTensorsAreRefused(@TempDir Path dir) throws IOException {
        Path folder = rewrite("llama-tiny", dir, (name, t) -> true, null);
        Map<String, Stored> tensors = read(folder.resolve("model.safetensors"));
        tensors.put("model.layers.0.self_attn.q_proj.bias", new Stored(new float[16], new int[] {16}));
        write(tensors, folder.resolve("model.safetensors"), SafetensorsDType.F32);
        CheckpointException e = refused(folder);
        assertMentions(e,
                "1 tensor(s) that the configuration in " + folder.resolve("config.json")
                + " does not use, e.g. [model.layers.0.self_attn.q_proj.bias]");
    }

    @Test
    void unknownModelTypeIsNamedWithTheSupportedOnes(@TempDir Path dir) throws IOException {
        Path folder = rewrite("llama-tiny", dir, (name, t) -> true, config -> config.replace("\"llama\"", "\"bert\""));
        CheckpointException e = refused(folder);
        assertEquals(folder.resolve("config.json") + ": model_type 'bert' is not supported; supported model types:"
                + " gpt2, llama, mistral, qwen2", e.getMessage());
    }

    @Test
    void folderWithoutWeightsIsRefused(@TempDir Path dir) throws IOException {
        Files.copy(fixture("gpt2-tiny").resolve("config.json"), dir.resolve("config.json"));
        CheckpointException e = refused(dir);
        assertTrue(e.getMessage().startsWith(dir + " has neither model.safetensors nor model.safetensors.index.json"),
                e.getMessage());
        CheckpointException noConfig = refused(dir.resolve("absent"));
        assertMentions(noConfig, "has no config.json");
    }

    @Test
    void gpt2NamesWithoutPrefixLoadTheSameModel(@TempDir Path dir) throws IOException {
        Path folder = rewrite("gpt2-tiny", dir, (name, t) -> true, null);
        Map<String, Stored> stripped = new LinkedHashMap<>();
        read(folder.resolve("model.safetensors"))
                .forEach((name, t) -> stripped.put(name.replaceFirst("^transformer\\.", ""), t));
        assertTrue(stripped.containsKey("h.0.attn.bias"), "the causal-mask buffer is kept, and must be ignored");
        write(stripped, folder.resolve("model.safetensors"), SafetensorsDType.F32);
        assertArrayEquals(logits(fixture("gpt2-tiny")), logits(folder));
    }

    @Test
    void shardedCheckpointLoadsTheSameModel(@TempDir Path dir) throws IOException {
        Path folder = rewrite("llama-tiny-gqa", dir, (name, t) -> true, null);
        Map<String, Stored> all = read(folder.resolve("model.safetensors"));
        Files.delete(folder.resolve("model.safetensors"));
        Map<String, Stored> first = new LinkedHashMap<>();
        Map<String, Stored> second = new LinkedHashMap<>();
        Map<String, Object> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, Stored> e : all.entrySet()) {
            boolean early = e.getKey().startsWith("model.embed_tokens") || e.getKey().startsWith("model.layers.0.");
            (early ? first : second).put(e.getKey(), e.getValue());
            weightMap.put(e.getKey(), early ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        }
        write(first, folder.resolve("model-00001-of-00002.safetensors"), SafetensorsDType.F32);
        write(second, folder.resolve("model-00002-of-00002.safetensors"), SafetensorsDType.F32);
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", 0L));
        index.put("weight_map", weightMap);
        Files.writeString(folder.resolve("model.safetensors.index.json"), JsonWriter.compact().write(index));
        assertArrayEquals(logits(fixture("llama-tiny-gqa")), logits(folder));
    }

    @Test
    void halfPrecisionTensorsAreWidened(@TempDir Path dir) throws IOException {
        for (SafetensorsDType dtype : new SafetensorsDType[] {SafetensorsDType.BF16, SafetensorsDType.F16}) {
            Path folder = rewrite("llama-tiny", dir.resolve(dtype.name()), (name, t) -> true, null);
            Map<String, Stored> tensors = read(folder.resolve("model.safetensors"));
            write(tensors, folder.resolve("model.safetensors"), dtype);
            float[] original = tensors.get("model.layers.0.self_attn.k_proj.weight").values();
            float[] rounded = new float[original.length];
            for (int i = 0; i < original.length; i++) {
                rounded[i] = dtype == SafetensorsDType.BF16
                        ? HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(original[i]))
                        : HalfFloats.f16ToFloat(HalfFloats.floatToF16(original[i]));
            }
            try (Backend backend = new ReferenceBackend();
                 LanguageModel model = HuggingFaceCheckpoint.load(folder, backend)) {
                float[] loaded = backend.download(model.weights().get("model.layers.0.self_attn.k_proj.weight"));
                assertArrayEquals(rounded, loaded, dtype + " values widened exactly");
            }
        }
    }

    @Test
    void mistralConfigRunsLlamaLayersWithinItsWindow(@TempDir Path dir) throws IOException {
        Path folder = rewrite("llama-tiny", dir, (name, t) -> true,
                config -> config.replace("\"model_type\": \"llama\"",
                        "\"model_type\": \"mistral\", \"sliding_window\": 16"));
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(folder, backend)) {
            assertEquals("mistral", model.architecture());
            assertEquals(16, model.contextLength(), "the window caps the context, where attention is exact");
        }
        assertArrayEquals(logits(fixture("llama-tiny")), logits(folder));
    }

    @Test
    void qwen2ConfigNeedsAndAppliesQkvBiases(@TempDir Path dir) throws IOException {
        Path folder = rewrite("llama-tiny", dir, (name, t) -> true,
                config -> config.replace("\"model_type\": \"llama\"", "\"model_type\": \"qwen2\""));
        CheckpointException missing = refused(folder);
        assertMentions(missing, "tensor 'model.layers.0.self_attn.q_proj.bias' is missing");

        Map<String, Stored> tensors = read(folder.resolve("model.safetensors"));
        for (int l = 0; l < 2; l++) {
            for (String p : new String[] {"q", "k", "v"}) {
                String name = "model.layers." + l + ".self_attn." + p + "_proj.bias";
                tensors.put(name, new Stored(new float[16], new int[] {16}));
            }
        }
        write(tensors, folder.resolve("model.safetensors"), SafetensorsDType.F32);
        float[] llama = logits(fixture("llama-tiny"));
        assertArrayEquals(llama, logits(folder), "zero biases change nothing");

        float[] bias = new float[16];
        for (int i = 0; i < bias.length; i++) bias[i] = 0.25f * (i % 5 - 2);
        tensors.put("model.layers.1.self_attn.q_proj.bias", new Stored(bias, new int[] {16}));
        write(tensors, folder.resolve("model.safetensors"), SafetensorsDType.F32);
        assertTrue(Compare.relativeL2(logits(folder), llama) > 1e-3, "a q bias moves the logits");
    }

    @Test
    void savedFoldersLoadTheSameModel(@TempDir Path dir) throws IOException {
        for (String name : new String[] {"gpt2-tiny", "llama-tiny-gqa"}) {
            try (Backend backend = new ReferenceBackend();
                 LanguageModel model = HuggingFaceCheckpoint.load(fixture(name), backend)) {
                HuggingFaceCheckpoint.save(model, dir.resolve(name));
            }
            assertArrayEquals(logits(fixture(name)), logits(dir.resolve(name)), name);
            Set<String> expected = new TreeSet<>(read(fixture(name).resolve("model.safetensors")).keySet());
            expected.removeIf(n -> n.matches(".*\\.h\\.\\d+\\.attn\\.(bias|masked_bias)"));   // GPT-2's buffers
            assertEquals(expected, new TreeSet<>(read(dir.resolve(name).resolve("model.safetensors")).keySet()), name);
        }
        String config = Files.readString(dir.resolve("gpt2-tiny").resolve("config.json"));
        assertTrue(config.startsWith("{\n  \"activation_function\": \"gelu_new\",\n"
                + "  \"architectures\": [\n    \"GPT2LMHeadModel\"\n  ],"), config);
        assertTrue(config.contains("\"layer_norm_epsilon\": 1e-05,") && config.endsWith("}\n"), config);
    }

    @Test
    void llama2cModelSavedInRotateHalfLayoutLoadsBack(@TempDir Path dir) throws IOException {
        TokenBatch batch = TokenBatch.of(1, 461, 401, 378, 455, 473, 456);
        try (Backend backend = new ReferenceBackend();
             Llama interleaved = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend)) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> HuggingFaceCheckpoint.save(interleaved, dir.resolve("refused")));
            assertMentions(e,
                    "stories260K.bin cannot be saved as a Hugging Face folder: llama: Hugging"
                    + " Face weights use rotate-half RoPE");
            assertTrue(Files.notExists(dir.resolve("refused")), "nothing is written for a refused model");
            try (Llama converted = Llama2cCheckpoint.toRotateHalf(interleaved);
                 Workspace workspace = new Workspace(backend, "logits")) {
                HuggingFaceCheckpoint.save(converted, dir.resolve("stories260K"));
                Tape tape = new Tape(backend, workspace);
                float[] expected = backend.download(interleaved.logits(tape, batch, null).value());
                try (LanguageModel loaded = HuggingFaceCheckpoint.load(dir.resolve("stories260K"), backend)) {
                    assertEquals(512, loaded.contextLength());
                    Llama llama = assertInstanceOf(Llama.class, loaded);
                    assertEquals(1e-5, llama.config().rmsNormEps());
                    workspace.reset();
                    float[] actual = backend.download(loaded.logits(new Tape(backend, workspace), batch, null).value());
                    Compare.assertClose(expected, actual, 1e-5, "stories260K through a Hugging Face folder");
                }
            }
        }
        String config = Files.readString(dir.resolve("stories260K").resolve("config.json"));
        assertTrue(config.contains("\"rope_theta\": 10000.0,") && config.contains("\"num_key_value_heads\": 4,")
                && config.contains("\"rope_scaling\": null,"), config);
    }

    private static CheckpointException refused(Path folder) {
        try (Backend backend = new ReferenceBackend()) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> HuggingFaceCheckpoint.load(folder, backend));
            assertEquals(0, backend.liveBytes(), "a refused checkpoint leaves nothing allocated");
            return e;
        }
    }

    private static float[] logits(Path folder) {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(folder, backend);
             Workspace workspace = new Workspace(backend, "logits")) {
            return backend.download(model.logits(new Tape(backend, workspace), BATCH, null).value());
        }
    }

    /** A copy of a fixture's config.json (edited) and model.safetensors (the tensors {@code keep} accepts). */
    private static Path rewrite(String name, Path dir, BiPredicate<String, Stored> keep,
                                UnaryOperator<String> editConfig) throws IOException {
        Path source = fixture(name);
        Path folder = dir.resolve(name);
        Files.createDirectories(folder);
        String config = Files.readString(source.resolve("config.json"), StandardCharsets.UTF_8);
        Files.writeString(folder.resolve("config.json"), editConfig == null ? config : editConfig.apply(config));
        Map<String, Stored> kept = new LinkedHashMap<>();
        read(source.resolve("model.safetensors")).forEach((n, t) -> {
            if (keep.test(n, t)) kept.put(n, t);
        });
        write(kept, folder.resolve("model.safetensors"), SafetensorsDType.F32);
        return folder;
    }

    /** Every float tensor of a file; integer buffers (GPT-2's causal masks) come back as floats 0/1. */
    private static Map<String, Stored> read(Path file) {
        Map<String, Stored> out = new LinkedHashMap<>();
        try (TensorSource source = TensorSource.open(file)) {
            for (String n : source.names()) {
                int[] shape = source.info(n).intShape();
                float[] values;
                if (source.info(n).dtype().readableAsFloat32()) {
                    values = source.readFloats(n);
                } else {
                    long[] longs = source.readLongs(n);
                    values = new float[longs.length];
                    for (int i = 0; i < longs.length; i++) values[i] = longs[i];
                }
                out.put(n, new Stored(values, shape));
            }
        }
        return out;
    }

    private static void write(Map<String, Stored> tensors, Path file, SafetensorsDType dtype) {
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        tensors.forEach((n, t) -> writer.add(n, dtype, t.values(), t.shape()));
        writer.write(file);
    }

    private static Path fixture(String name) {
        return Fixtures.folder(name);
    }
}
