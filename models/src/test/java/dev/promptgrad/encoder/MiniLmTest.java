package dev.promptgrad.encoder;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.promptgrad.testing.Compare.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * all-MiniLM-L6-v2 from the Maven Central jar, on the CPU backend: the ids and sentence embeddings of five
 * sentences, encoded as one padded batch, against tools/minilm_reference.py's torch values; the same weights
 * written out as a sentence-transformers folder load to the same embeddings; a soft prompt gets a gradient.
 */
class MiniLmTest {
    private static CpuBackend backend;
    private static Encoder encoder;

    @BeforeAll
    static void load() {
        backend = new CpuBackend();
        encoder = EncoderCatalog.load(EncoderCatalog.MINILM, backend);
    }

    @AfterAll
    static void close() {
        encoder.close();
        assertEquals(0, backend.liveBytes());
        backend.close();
    }

    private static JsonObject reference() {
        try (InputStream in = MiniLmTest.class.getResourceAsStream("/fixtures/minilm/reference.json")) {
            Object parsed = Json.parse(in.readAllBytes(), "reference.json", JsonLimits.upTo(1 << 20));
            return JsonObject.of(parsed, "reference.json");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void configFromTheGraph() {
        BertConfig config = encoder.model().config();
        assertEquals(new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12f,
                UnaryOp.GELU_ERF), config);
        assertEquals(Pooling.MEAN_NORMALIZED, encoder.model().pooling());
        assertEquals(128, encoder.tokenizer().maxLength().getAsInt());
    }

    @Test
    void embeddingsMatchTorch() {
        JsonObject reference = reference();
        List<String> sentences = reference.requireStrings("sentences");
        List<Object> ids = reference.requireArray("ids");
        List<Object> embeddings = reference.requireArray("embeddings");
        EncoderBatch batch = encoder.batch(sentences);
        for (int b = 0; b < sentences.size(); b++) {
            int[] expected = ((List<?>) ids.get(b)).stream().mapToInt(v -> Math.toIntExact((Long) v)).toArray();
            int[] row = new int[batch.tokens(b)];
            System.arraycopy(batch.ids(), b * batch.length(), row, 0, row.length);
            assertArrayEquals(expected, row, sentences.get(b));
        }
        float[][] actual = encoder.embed(sentences);
        for (int b = 0; b < sentences.size(); b++) {
            List<?> values = (List<?>) embeddings.get(b);
            float[] expected = new float[values.size()];
            for (int i = 0; i < expected.length; i++) expected[i] = ((Number) values.get(i)).floatValue();
            assertClose(expected, actual[b], 1e-5, sentences.get(b));
            double length = 0;
            for (float v : actual[b]) length += (double) v * v;
            assertEquals(1, Math.sqrt(length), 1e-6, "normalised");
        }
    }

    @Test
    void sentenceTransformersFolderOfTheSameWeights(@TempDir Path folder) throws IOException {
        BertModel model = encoder.model();
        BertConfig c = model.config();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model_type", "bert");
        config.put("vocab_size", (long) c.vocabSize());
        config.put("hidden_size", (long) c.hiddenSize());
        config.put("num_hidden_layers", (long) c.layers());
        config.put("num_attention_heads", (long) c.heads());
        config.put("intermediate_size", (long) c.intermediateSize());
        config.put("max_position_embeddings", (long) c.maxPositions());
        config.put("type_vocab_size", (long) c.typeVocabSize());
        config.put("layer_norm_eps", c.layerNormEps());
        config.put("hidden_act", "gelu");
        Files.writeString(folder.resolve("config.json"), JsonWriter.pretty().write(config));
        Files.writeString(folder.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                 {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]""");
        Files.createDirectories(folder.resolve("1_Pooling"));
        Files.writeString(folder.resolve("1_Pooling/config.json"), """
                {"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
                 "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}""");
        try (InputStream in = MiniLmTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            Files.write(folder.resolve("tokenizer.json"), in.readAllBytes());
        }
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        for (Map.Entry<String, Tensor> e : model.weights().all().entrySet()) {
            writer.add(e.getKey(), backend.download(e.getValue()), e.getValue().shape());
        }
        writer.write(folder.resolve("model.safetensors"));

        List<String> sentences = reference().requireStrings("sentences");
        float[][] fromOnnx = encoder.embed(sentences);
        try (Encoder fromFolder = EncoderCatalog.load(folder.toString(), backend)) {
            assertEquals(Pooling.MEAN_NORMALIZED, fromFolder.model().pooling());
            float[][] embeddings = fromFolder.embed(sentences);
            for (int b = 0; b < sentences.size(); b++) {
                for (int i = 0; i < 384; i++) {
                    assertEquals(fromOnnx[b][i], embeddings[b][i], 1e-7, sentences.get(b) + " [" + i + "]");
                }
            }
        }
    }

    @Test
    void softPromptGetsAGradientThatLowersTheLoss() {
        List<String> texts = List.of("The cat sits outside.", "I love pizza");
        int dim = 384;
        float[] target = encoder.embed(List.of("A man is playing guitar."))[0];
        try (Scope scope = new Scope(backend, "prompt"); Workspace workspace = new Workspace(backend, "step")) {
            float[] start = new float[4 * dim];
            for (int i = 0; i < start.length; i++) start[i] = (float) (0.05 * Math.sin(i));
            Tensor prompt = scope.of(start, 4, dim);
            Tape tape = new Tape(backend, workspace);
            EncoderBatch batch = encoder.batch(texts, 4);
            double before = 0;
            float[] dPrompt;
            {
                Variable p = tape.parameter(prompt, "prompt");
                BertModel.Encoding encoding = encoder.model().forward(tape, batch, p, PromptPlacement.AFTER_CLS);
                float[] pooled = backend.download(encoding.pooled().value());
                // loss = −Σ_b e_b · target (the embeddings are normalised, so this is −Σ cos · |target|)
                float[] seed = new float[pooled.length];
                for (int b = 0; b < texts.size(); b++) {
                    for (int i = 0; i < dim; i++) {
                        before -= pooled[b * dim + i] * target[i];
                        seed[b * dim + i] = -target[i];
                    }
                }
                Tensor seedTensor = tape.allocate(texts.size(), dim);
                backend.upload(seed, seedTensor);
                Gradients grads = tape.backward(encoding.pooled(), seedTensor);
                dPrompt = backend.download(grads.of(p));
            }
            double squared = 0;
            for (float g : dPrompt) squared += g * g;
            assertTrue(squared > 0, "the prompt gets a gradient");
            float[] stepped = start.clone();
            double step = 0.05 / Math.sqrt(squared);
            for (int i = 0; i < stepped.length; i++) stepped[i] -= (float) (step * dPrompt[i]);
            tape.reset();
            backend.upload(stepped, prompt);
            float[] pooled = backend.download(encoder.model().forward(tape, batch, tape.parameter(prompt, "prompt"),
                    PromptPlacement.AFTER_CLS).pooled().value());
            double after = 0;
            for (int i = 0; i < pooled.length; i++) after -= pooled[i] * target[i % dim];
            // a small step against the gradient lowers the loss by about step·|g|² (first order)
            double predicted = step * squared;
            assertTrue(before - after > 0.5 * predicted && before - after < 1.5 * predicted,
                    "loss " + before + " -> " + after + ", first-order prediction " + predicted);
        }
    }
}
