package dev.promptgrad.encoder;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static dev.promptgrad.testing.Compare.assertClose;
import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The tiny random BERT of tools/bert_fixtures.py against PyTorch: last hidden states, mean-pooled and normalised
 * sentence embeddings, and for a 3-row soft prompt before and after [CLS] the loss −Σ cos(embedding, target) and
 * dLoss/dPrompt; the same weights from the Hugging Face folder and from the ONNX export (whose anonymous MatMul
 * weights are renamed and shuffled) give the same numbers. On the reference and the CPU backend.
 */
class BertGoldenTest {
    static final double TOLERANCE = 1e-5;

    static Path fixture() {
        return Fixtures.folder("bert-tiny");
    }

    static Stream<TestBackends.Named> backends() {
        return TestBackends.all();
    }

    static EncoderBatch goldenBatch(JsonObject golden) {
        int[] ids = flatten(golden.requireArray("input_ids"));
        int batch = golden.requireArray("input_ids").size();
        return new EncoderBatch(batch, ids.length / batch, ids, flatten(golden.requireArray("attention_mask")),
                flatten(golden.requireArray("token_type_ids")));
    }

    static JsonObject goldenJson() {
        return Json.parseObjectFile(fixture().resolve("golden.json"), JsonLimits.upTo(1 << 20));
    }

    private static int[] flatten(List<Object> rows) {
        return rows.stream().flatMap(r -> ((List<?>) r).stream()).mapToInt(v -> Math.toIntExact((Long) v)).toArray();
    }

    @ParameterizedTest
    @MethodSource("backends")
    void hiddenStatesAndEmbeddingsMatchTorch(TestBackends.Named named) {
        Backend backend = named.open();
        JsonObject golden = goldenJson();
        EncoderBatch batch = goldenBatch(golden);
        try (SafetensorsFile expected = SafetensorsFile.open(fixture().resolve("golden.safetensors"));
             BertModel folder = BertModel.load(fixture(), backend, null);
             BertModel meanOnly = BertModel.load(fixture(), backend, Pooling.MEAN_ONLY);
             BertModel onnx = BertModel.load(fixture().resolve("model.onnx"), backend, null);
             Workspace workspace = new Workspace(backend, "bert golden")) {
            assertEquals(Pooling.MEAN_NORMALIZED, folder.pooling(), "modules.json: mean pooling then Normalize");
            assertEquals(folder.config(), new BertConfig(50, 16, 2, 4, 40, 24, 2, 1e-12,
                    UnaryOp.GELU_ERF));
            Tape tape = new Tape(backend, workspace);
            BertModel.Encoding encoding = folder.forward(tape, batch);
            assertClose(expected.readFloats("hidden"), backend.download(encoding.hidden().value()), TOLERANCE,
                    "hidden");
            assertClose(expected.readFloats("embeddings"), backend.download(encoding.pooled().value()), TOLERANCE,
                    "embeddings");
            assertEquals(0, tape.recordedOps(), "without a prompt nothing needs a gradient");
            assertClose(expected.readFloats("mean_pooled"),
                    backend.download(meanOnly.forward(tape, batch).pooled().value()), TOLERANCE, "mean pooled");
            BertModel.Encoding fromOnnx = onnx.forward(tape, batch);
            assertEquals(folder.config().layers(), onnx.config().layers());
            assertEquals(folder.config().heads(), onnx.config().heads());
            assertEquals(1e-12f, onnx.config().layerNormEps(), "ε is the graph's float32 constant");
            assertClose(backend.download(encoding.hidden().value()), backend.download(fromOnnx.hidden().value()), 1e-6,
                    "ONNX vs folder hidden");
            assertClose(backend.download(encoding.pooled().value()), backend.download(fromOnnx.pooled().value()), 1e-6,
                    "ONNX vs folder embeddings");
            for (String name : BertModel.expectedShapes(folder.config()).keySet()) {
                assertArrayEquals(backend.download(folder.weights().get(name)),
                        backend.download(onnx.weights().get(name)),
                        name + ": the ONNX weight matched through the graph is the folder's");
            }
        }
        assertEquals(0, backend.liveBytes(), "closing the models and workspace frees everything");
        backend.close();
    }

    @ParameterizedTest
    @MethodSource("backends")
    void promptBeforeAndAfterClsMatchTorch(TestBackends.Named named) {
        Backend backend = named.open();
        JsonObject golden = goldenJson();
        EncoderBatch batch = goldenBatch(golden);
        try (SafetensorsFile expected = SafetensorsFile.open(fixture().resolve("golden.safetensors"));
             Scope scope = new Scope(backend, "prompt")) {
            for (Path path : List.of(fixture(), fixture().resolve("model.onnx"))) {
                try (BertModel model = BertModel.load(path, backend, null)) {
                    for (PromptPlacement placement : PromptPlacement.values()) {
                        checkPrompted(backend, model, batch, expected, scope, placement);
                    }
                }
            }
        }
        assertEquals(0, backend.liveBytes());
        backend.close();
    }

    private static void checkPrompted(Backend backend, BertModel model, EncoderBatch batch, SafetensorsFile expected,
                                      Scope scope, PromptPlacement placement) {
        String key = placement == PromptPlacement.BEFORE_CLS ? "before_cls" : "after_cls";
        int dim = model.config().hiddenSize();
        float[] target = expected.readFloats("target");
        try (Workspace workspace = new Workspace(backend, "prompted")) {
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.parameter(scope.of(expected.readFloats("prompt"), 3, dim), "prompt");
            BertModel.Encoding encoding = model.forward(tape, batch, prompt, placement);
            int p = encoding.promptLength();
            assertEquals(3, p);
            int[] expectedPositions = placement == PromptPlacement.BEFORE_CLS
                    ? new int[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} : new int[]{1, 2, 3, 0, 4, 5, 6, 7, 8, 9};
            assertArrayEquals(expectedPositions, encoding.positions(), key + " positions");

            // torch's hidden states are in sequence order; ours are [prompt rows, text rows] in memory
            float[] hidden = backend.download(encoding.hidden().value());
            float[] sequenceOrder = new float[hidden.length];
            int length = p + batch.length();
            for (int b = 0; b < batch.batch(); b++) {
                for (int row = 0; row < length; row++) {
                    int sequenceRow = placement == PromptPlacement.BEFORE_CLS ? row
                            : row < p ? row + 1 : row == p ? 0 : row;
                    System.arraycopy(hidden, (b * length + row) * dim,
                            sequenceOrder, (b * length + sequenceRow) * dim, dim);
                }
            }
            assertClose(expected.readFloats(key + "_hidden"), sequenceOrder, TOLERANCE, key + " hidden");
            float[] pooled = backend.download(encoding.pooled().value());
            assertClose(expected.readFloats(key + "_embeddings"), pooled, TOLERANCE, key + " embeddings");

            // loss = −Σ_b cos(e_b, t); dLoss/de_b = −(t/(|e||t|) − (e·t)·e/(|e|³|t|))
            double loss = 0;
            float[] seed = new float[pooled.length];
            double tNorm = Math.sqrt(dot(target, 0, target, 0, dim));
            for (int b = 0; b < batch.batch(); b++) {
                double eNorm = Math.sqrt(dot(pooled, b * dim, pooled, b * dim, dim));
                double et = dot(pooled, b * dim, target, 0, dim);
                loss -= et / (eNorm * tNorm);
                for (int i = 0; i < dim; i++) {
                    seed[b * dim + i] = (float) -(target[i] / (eNorm * tNorm)
                            - et * pooled[b * dim + i] / (eNorm * eNorm * eNorm * tNorm));
                }
            }
            assertEquals(expected.readFloats(key + "_loss")[0], loss, TOLERANCE, key + " loss");
            Tensor seedTensor = tape.allocate(batch.batch(), dim);
            backend.upload(seed, seedTensor);
            Gradients grads = tape.backward(encoding.pooled(), seedTensor);
            assertClose(expected.readFloats(key + "_prompt_grad"), backend.download(grads.of(prompt)), TOLERANCE,
                    key + " dLoss/dPrompt from " + model.name());
        }
    }

    private static double dot(float[] a, int aFrom, float[] b, int bFrom, int n) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (double) a[aFrom + i] * b[bFrom + i];
        return sum;
    }

    @ParameterizedTest
    @MethodSource("backends")
    void clsPoolingAndPositionBound(TestBackends.Named named) {
        Backend backend = named.open();
        EncoderBatch batch = goldenBatch(goldenJson());
        try (BertModel cls = BertModel.load(fixture(), backend, new Pooling(Pooling.Mode.CLS, false));
             BertModel sqrtLen = BertModel.load(fixture(), backend, new Pooling(Pooling.Mode.MEAN_SQRT_LEN, false));
             SafetensorsFile expected = SafetensorsFile.open(fixture().resolve("golden.safetensors"));
             Workspace workspace = new Workspace(backend, "pooling");
             Scope scope = new Scope(backend, "prompt")) {
            Tape tape = new Tape(backend, workspace);
            float[] hidden = expected.readFloats("hidden");          // (3, 7, 16)
            float[] meanPooled = expected.readFloats("mean_pooled"); // (3, 16)
            float[] clsPooled = backend.download(cls.forward(tape, batch).pooled().value());
            float[] sqrtPooled = backend.download(sqrtLen.forward(tape, batch).pooled().value());
            int[] lengths = {7, 4, 6};
            for (int row = 0; row < 3; row++) {
                assertClose(Arrays.copyOfRange(hidden, row * 7 * 16, row * 7 * 16 + 16),
                        Arrays.copyOfRange(clsPooled, row * 16, row * 16 + 16), TOLERANCE, "CLS row " + row);
                float[] scaled = Arrays.copyOfRange(meanPooled, row * 16, row * 16 + 16);
                for (int i = 0; i < 16; i++) scaled[i] *= (float) Math.sqrt(lengths[row]);
                assertClose(scaled, Arrays.copyOfRange(sqrtPooled, row * 16, row * 16 + 16), TOLERANCE,
                        "mean·√count row " + row);
            }
            // 24 positions: 17 prompt rows + 7 tokens fit, 18 do not
            Variable fits = tape.parameter(scope.allocate(17, 16), "prompt");
            backend.fill(fits.value(), 0.1);
            assertEquals(24, cls.forward(tape, batch, fits, PromptPlacement.BEFORE_CLS).positions().length);
            Variable tooLong = tape.parameter(scope.allocate(18, 16), "prompt");
            backend.fill(tooLong.value(), 0.1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cls.forward(tape, batch, tooLong, PromptPlacement.AFTER_CLS));
            assertMentions(e, "18 prompt rows and 7 tokens make 25 positions, more than the 24");
            Variable wrongWidth = tape.parameter(scope.allocate(2, 8), "prompt");
            assertMentions(assertThrows(IllegalArgumentException.class,
                    () -> cls.forward(tape, batch, wrongWidth, PromptPlacement.BEFORE_CLS)), "must be [P, 16]");
        }
        backend.close();
    }
}
