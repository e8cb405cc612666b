package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Decoder;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.safetensors.SafetensorsDType;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.safetensors.TensorSource;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.SharedFiles;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BF16 weight storage changes nothing but the rounding of the weights: a model loaded with {@code WeightStorage.BF16}
 * (rounded at upload) or {@code AUTO} from a BF16 file (not rounded at all) computes the logits, loss and dLoss/dPrompt
 * of the same model stored in float32 with the weights rounded to bfloat16 first, on every backend, for the four
 * golden fixtures; decoding stories260K with the KV cache through BF16 weights gives that model's greedy ids; and a
 * bfloat16 folder that transformers itself saved in shards gives transformers' logits.
 */
class Bf16WeightsTest {

    private static final float TOLERANCE = 1e-5f;

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> GoldenFixture.NAMES.stream().map(f -> Arguments.of(f, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void bf16StorageComputesWhatFloat32OfTheRoundedWeightsComputes(String name, TestBackends.Named named,
                                                                   @TempDir Path dir) throws IOException {
        GoldenFixture fixture = GoldenFixture.load(name);
        Path roundedFolder = bf16Copy(fixture.folder(), dir.resolve(name));
        try (Backend backend = named.open()) {
            if (!backend.supports(DType.BF16)) {
                assertThrows(IllegalArgumentException.class,
                        () -> HuggingFaceCheckpoint.load(fixture.folder(), backend, WeightStorage.BF16));
                return;
            }
            Result oracle = run(fixture, HuggingFaceCheckpoint.load(roundedFolder, backend, WeightStorage.F32), DType.F32);
            Result rounded = run(fixture, HuggingFaceCheckpoint.load(fixture.folder(), backend, WeightStorage.BF16),
                    DType.BF16);
            Result kept = run(fixture, HuggingFaceCheckpoint.load(roundedFolder, backend, WeightStorage.AUTO),
                    DType.BF16);
            Result widened = run(fixture, HuggingFaceCheckpoint.load(fixture.folder(), backend, WeightStorage.AUTO),
                    DType.F32);
            for (Result r : new Result[] {rounded, kept}) {
                Compare.assertClose(oracle.logits, r.logits, TOLERANCE, name + " logits, " + r.what);
                assertEquals(oracle.loss, r.loss, 1e-6 * Math.abs(oracle.loss), name + " loss, " + r.what);
                Compare.assertClose(oracle.dPrompt, r.dPrompt, TOLERANCE, name + " dLoss/dPrompt, " + r.what);
                assertTrue(r.weightBytes < 0.6 * widened.weightBytes, name + ": " + r.what + " holds " + r.weightBytes
                        + " bytes of weights against " + widened.weightBytes + " in float32");
            }
            assertTrue(Compare.relativeL2(oracle.logits, widened.logits) > 1e-7,
                    name + ": rounding the weights to bfloat16 must change the logits, or this test shows nothing");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void decodingStories260KThroughBf16WeightsGivesTheRoundedModelsIds(TestBackends.Named named) {
        try (Backend backend = named.open()) {
            if (!backend.supports(DType.BF16)) return;
            try (Llama bf16 = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend, WeightStorage.BF16);
                 Llama rounded = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend, WeightStorage.F32)) {
                for (Tensor w : rounded.weights().all().values()) {
                    float[] values = backend.download(w);
                    for (int i = 0; i < values.length; i++) values[i] = roundToBf16(values[i]);
                    if (w.rank() == 2) backend.upload(values, w);
                }
                assertEquals(DType.BF16, bf16.weights().get("model.layers.0.mlp.down_proj.weight").dtype());
                assertEquals(DType.F32, bf16.weights().get("model.norm.weight").dtype());
                GenerationSettings greedy = GenerationSettings.greedy(48);
                try (Decoder a = new CachedDecoder(bf16, null); Decoder b = new CachedDecoder(rounded, null)) {
                    assertArrayEquals(Generator.generate(b, new int[] {1}, greedy, null).tokens(),
                            Generator.generate(a, new int[] {1}, greedy, null).tokens());
                }
            }
        }
    }

    /**
     * llama-tiny-gqa as transformers 5.17 saves it in bfloat16, in three 8 KB shards behind
     * model.safetensors.index.json (tools/hf_crosscheck.py --save): AUTO keeps its matrices BF16, F32 widens them,
     * and both give the logits transformers computes from that folder with the weights widened to float32.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void aShardedBf16FolderSavedByTransformersGivesItsLogits(TestBackends.Named named) {
        GoldenFixture fixture = GoldenFixture.load("llama-tiny-gqa");
        Path folder = fixture.folder().resolve("transformers5-bf16-sharded");
        float[] expected;
        try (TensorSource reference = TensorSource.open(folder.resolve("reference.safetensors"))) {
            expected = reference.readFloats("logits");
        }
        try (Backend backend = named.open()) {
            WeightStorage[] storages = backend.supports(DType.BF16)
                    ? new WeightStorage[] {WeightStorage.AUTO, WeightStorage.F32} : new WeightStorage[] {WeightStorage.F32};
            for (WeightStorage storage : storages) {
                try (LanguageModel model = HuggingFaceCheckpoint.load(folder, backend, storage);
                     Workspace workspace = new Workspace(backend, "sharded bf16")) {
                    assertEquals(storage == WeightStorage.AUTO ? DType.BF16 : DType.F32,
                            model.weights().get("model.layers.0.mlp.down_proj.weight").dtype(), storage.toString());
                    float[] logits = backend.download(model.logits(new Tape(backend, workspace), fixture.batch(), null)
                            .value());
                    Compare.assertClose(expected, logits, TOLERANCE, "transformers' sharded bf16 folder, " + storage);
                }
            }
        }
    }

    @Test
    void storageRules() {
        try (Backend reference = new ReferenceBackend()) {
            int[] matrix = {4, 3}, vector = {3};
            assertEquals(DType.F32, WeightStorage.BF16.dtypeFor(vector, SafetensorsDType.BF16, reference), "vectors stay F32");
            assertEquals(DType.BF16, WeightStorage.BF16.dtypeFor(matrix, SafetensorsDType.F32, reference));
            assertEquals(DType.F32, WeightStorage.F32.dtypeFor(matrix, SafetensorsDType.BF16, reference));
            assertEquals(DType.BF16, WeightStorage.AUTO.dtypeFor(matrix, SafetensorsDType.BF16, reference));
            assertEquals(DType.F32, WeightStorage.AUTO.dtypeFor(matrix, SafetensorsDType.F16, reference),
                    "F16 is not exact in bfloat16, so AUTO widens it");
            assertEquals(WeightStorage.BF16, WeightStorage.parse("bf16"));
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> WeightStorage.parse("fp8"));
            assertTrue(bad.getMessage().contains("f32, bf16, auto"), bad.getMessage());
        }
    }

    private record Result(String what, float[] logits, double loss, float[] dPrompt, long weightBytes) {
    }

    /** Logits, loss and dLoss/dPrompt of the fixture's batch and prompt; checks the dtype of one matrix; closes the model. */
    private static Result run(GoldenFixture fixture, LanguageModel model, DType matrices) {
        Backend backend = model.backend();
        long before = backend.liveBytes();
        try (model;
             Workspace workspace = new Workspace(backend, "bf16 weights");
             Scope scope = new Scope(backend, "prompt")) {
            long weightBytes = 0;
            for (Tensor w : model.weights().all().values()) {
                weightBytes += w.size() * w.dtype().bytes;
                assertEquals(w.rank() == 2 ? matrices : DType.F32, w.dtype(), fixture + " " + w);
            }
            Tape tape = new Tape(backend, workspace);
            Tensor promptValues = scope.of(fixture.tensor("prompt"), fixture.promptLength(), model.dim());
            Variable prompt = tape.parameter(promptValues, "prompt");
            float[] logits = backend.download(model.logits(tape, fixture.batch(), prompt, null).value());
            tape.reset();
            prompt = tape.parameter(promptValues, "prompt");
            Variable loss = model.loss(tape, fixture.batch(), prompt);
            double lossValue = backend.downloadDouble(loss.value())[0];
            float[] dPrompt = backend.download(tape.backward(loss).of(prompt));
            assertTrue(before <= backend.liveBytes());
            return new Result(matrices + " storage", logits, lossValue, dPrompt, weightBytes);
        }
    }

    /** The fixture folder's F32 weights with the matrices stored as BF16, the vectors as F32 (config.json copied). */
    private static Path bf16Copy(Path source, Path folder) throws IOException {
        Files.createDirectories(folder);
        Files.copy(source.resolve("config.json"), folder.resolve("config.json"));
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        try (TensorSource tensors = TensorSource.open(HuggingFaceCheckpoint.weightsFile(source))) {
            for (String n : tensors.names()) {
                SafetensorsDType stored = tensors.info(n).dtype();
                if (stored != SafetensorsDType.F32) continue;   // GPT-2's boolean attention-mask buffers: not weights
                long[] shape = tensors.info(n).shape();
                int[] dims = new int[shape.length];
                for (int i = 0; i < shape.length; i++) dims[i] = Math.toIntExact(shape[i]);
                writer.add(n, dims.length == 2 ? SafetensorsDType.BF16 : SafetensorsDType.F32, tensors.readFloats(n), dims);
            }
        }
        writer.write(folder.resolve("model.safetensors"));
        return folder;
    }

    private static float roundToBf16(float value) {
        return HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(value));
    }
}
