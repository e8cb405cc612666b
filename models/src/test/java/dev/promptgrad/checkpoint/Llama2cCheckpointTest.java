package dev.promptgrad.checkpoint;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.Llama;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The llama2.c .bin reader on the real stories260K checkpoint and on damaged copies of it, and the
 * conversion of its interleaved-RoPE weights to Hugging Face's rotate-half layout.
 */
class Llama2cCheckpointTest {

    private static final long STORIES_BYTES = 1_056_540;

    @Test
    void readsStoriesHeader() {
        Llama2cCheckpoint.Header h = Llama2cCheckpoint.readHeader(SharedFiles.stories260K());
        assertEquals(new Llama2cCheckpoint.Header(64, 172, 5, 8, 4, 512, true, 512), h);
        assertEquals(STORIES_BYTES, h.expectedBytes());
        assertEquals(8, h.headSize());
        assertEquals(32, h.kvWidth());
    }

    @Test
    void loadsStoriesAsInterleavedLlama() {
        try (Backend backend = new ReferenceBackend();
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend)) {
            assertEquals(RopeLayout.INTERLEAVED, model.config().ropeLayout());
            assertEquals(1e-5, model.config().rmsNormEps());
            assertEquals(10000.0, model.config().ropeTheta());
            assertTrue(model.config().tiedHead());
            assertEquals(512, model.contextLength());
            assertEquals("stories260K.bin", model.name());
            assertArrayEquals(new int[] {32, 64},
                    model.weights().get("model.layers.4.self_attn.k_proj.weight").shape());
            assertArrayEquals(new int[] {64, 172}, model.weights().get("model.layers.0.mlp.down_proj.weight").shape());
            // 5 layers × 9 tensors, the embedding table and the final norm; no lm_head (shared classifier)
            assertEquals(47, model.weights().all().size());
            assertFalse(model.weights().contains("lm_head.weight"));
            float[] norm = backend.download(model.weights().get("model.norm.weight"));
            assertTrue(Arrays.stream(toDoubles(norm)).allMatch(v -> v > 0.1 && v < 10), "a trained RMSNorm weight");
        }
    }

    @Test
    void truncatedFileNamesBothSizes(@TempDir Path dir) throws IOException {
        Path cut = dir.resolve("cut.bin");
        byte[] all = Files.readAllBytes(SharedFiles.stories260K());
        Files.write(cut, Arrays.copyOf(all, all.length - 4096));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readHeader(cut));
        assertTrue(e.getMessage().startsWith(cut.toString()), e.getMessage());
        assertMentions(e, "implies " + STORIES_BYTES + " bytes but the file has " + (STORIES_BYTES - 4096));
        assertMentions(e, "truncated");
        try (Backend backend = new ReferenceBackend()) {
            assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(cut, backend));
            assertEquals(0, backend.liveBytes(), "nothing is allocated for a file that fails its size check");
        }
    }

    @Test
    void extraBytesAreRefused(@TempDir Path dir) throws IOException {
        Path longer = dir.resolve("longer.bin");
        byte[] all = Files.readAllBytes(SharedFiles.stories260K());
        Files.write(longer, Arrays.copyOf(all, all.length + 8));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readHeader(longer));
        assertMentions(e, "but the file has " + (STORIES_BYTES + 8) + "; it has extra data");
    }

    @Test
    void shortOrNonsenseHeadersAreRefused(@TempDir Path dir) throws IOException {
        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, new byte[12]);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readHeader(tiny));
        assertMentions(e, "12 bytes is too short");

        Path zeros = dir.resolve("zeros.bin");
        Files.write(zeros, header(0, 172, 5, 8, 4, 512, 512));
        e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readHeader(zeros));
        assertMentions(e, "dim 0, hidden_dim 172");

        Path odd = dir.resolve("odd.bin");
        Files.write(odd, header(64, 172, 5, 8, 3, 512, 512));
        e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.readHeader(odd));
        assertMentions(e, "n_kv_heads 3", "multiple of n_kv_heads");
    }

    @Test
    void negativeVocabMeansASeparateClassifier() {
        Llama2cCheckpoint.Header shared = new Llama2cCheckpoint.Header(64, 172, 5, 8, 4, 512, true, 512);
        Llama2cCheckpoint.Header separate = new Llama2cCheckpoint.Header(64, 172, 5, 8, 4, 512, false, 512);
        assertEquals(shared.expectedBytes() + 4L * 512 * 64, separate.expectedBytes());
        assertFalse(separate.config().tiedHead());
    }

    @Test
    void permutationMovesInterleavedPairsToHalves() {
        // two heads of size 4, one column: rows (h, j, part) → (h, part, j)
        float[] w = {0, 1, 2, 3, 10, 11, 12, 13};
        assertArrayEquals(new float[] {0, 2, 1, 3, 10, 12, 11, 13},
                Llama2cCheckpoint.interleavedToRotateHalf(w, 2, 4, 1));
        // one head of size 6, two columns
        float[] wide = {0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4, 4.5f, 5, 5.5f};
        assertArrayEquals(new float[] {0, 0.5f, 2, 2.5f, 4, 4.5f, 1, 1.5f, 3, 3.5f, 5, 5.5f},
                Llama2cCheckpoint.interleavedToRotateHalf(wide, 1, 6, 2));
    }

    @Test
    void rotateHalfConversionGivesTheSameLogits() {
        TokenBatch batch = TokenBatch.of(
                new int[][] {{1, 461, 401, 378, 455, 473, 456, 435, 299, 362}, {1, 283, 264, 283, 452, 0, 0, 0, 0, 0}},
                new int[][] {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0, 0, 0, 0, 0}}, null);
        try (Backend backend = new ReferenceBackend();
             Llama original = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
             Llama converted = Llama2cCheckpoint.toRotateHalf(original);
             Llama unpermuted = new Llama("unpermuted", original.config().withRopeLayout(RopeLayout.ROTATE_HALF),
                     copy(original))) {
            assertEquals(RopeLayout.ROTATE_HALF, converted.config().ropeLayout());
            float[] expected = logits(original, batch);
            Compare.assertClose(expected, logits(converted, batch), 1e-5, "rotate-half conversion");
            // the permutation is what makes them agree: the same weights under the other layout differ
            assertTrue(Compare.relativeL2(logits(unpermuted, batch), expected) > 1e-2);
            // and the conversion left the original's weights alone
            assertArrayEquals(backend.download(unpermuted.weights().get("model.layers.0.self_attn.q_proj.weight")),
                    backend.download(original.weights().get("model.layers.0.self_attn.q_proj.weight")));
        }
    }

    private static float[] logits(LanguageModel model, TokenBatch batch) {
        try (Workspace workspace = new Workspace(model.backend(), "logits")) {
            Tape tape = new Tape(model.backend(), workspace);
            return model.backend().download(model.logits(tape, batch, null).value());
        }
    }

    private static Weights copy(Llama model) {
        Weights weights = new Weights(model.backend(), "copy");
        for (Map.Entry<String, Tensor> e : model.weights().all().entrySet()) {
            model.backend().copy(e.getValue(), weights.allocate(e.getKey(), e.getValue().shape()));
        }
        return weights;
    }

    private static byte[] header(int... fields) {
        ByteBuffer b = ByteBuffer.allocate(4 * fields.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int f : fields) b.putInt(f);
        return b.array();
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) out[i] = values[i];
        return out;
    }
}
