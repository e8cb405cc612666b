package dev.promptgrad.checkpoint;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.safetensors.TensorInfo;
import dev.promptgrad.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Crafted checkpoints (docs/fuzzing.md): a llama2.c header whose implied size wraps around 2^64 to match a 52-byte
 * file, config.json sizes that overflow a tensor dimension or name no heads, and NaN weights. Each is refused with
 * the reader's exception naming the file, before anything is allocated on the header's word.
 */
class HostileCheckpointTest {
    @TempDir
    Path temp;

    private final Backend backend = new ReferenceBackend();

    @AfterEach
    void allMemoryReturned() {
        assertEquals(0, backend.liveBytes(), "a refused checkpoint must leave no weights behind");
    }

    private static byte[] llama2c(int[] header, float... weights) {
        ByteBuffer out = ByteBuffer.allocate(4 * (header.length + weights.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (int field : header) out.putInt(field);
        for (float w : weights) out.putFloat(w);
        return out.array();
    }

    @Test
    void aLlama2cHeaderWhoseSizeWrapsAround64BitsIsRefused() throws IOException {
        // 8·vocab + 52 + 8·layers·(10 + 3·hidden) bytes = 2^64 + 52: wrapped, it equals this file's 52 bytes
        int[] header = {2, 715_827_879, 1 << 30, 1, 1, 1 << 30, 1};
        Path file = Files.write(temp.resolve("wrapped.bin"), llama2c(header, new float[6]));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(file, backend));
        assertMentions(e, file.toString(), "implies more than 2^63 bytes", "n_layers 1073741824");
    }

    @Test
    void aNanWeightInALlama2cFileIsRefused() throws IOException {
        int[] header = {2, 2, 1, 1, 1, 2, 1};   // dim 2, hidden 2, 1 layer, 1 head, vocab 2, seq_len 1
        float[] weights = new float[4 + 2 + 4 + 8 + 4 + 2 + 12 + 2 + 2];
        weights[5] = Float.NaN;                  // the first layer's attention RMSNorm
        Path file = Files.write(temp.resolve("nan.bin"), llama2c(header, weights));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Llama2cCheckpoint.load(file, backend));
        assertMentions(e, file.toString(), "'model.layers.0.input_layernorm.weight' holds NaN at element 1",
                "must be finite");
    }

    private Path llamaFolder(String configEdit, String from, String to) throws IOException {
        Path source = Fixtures.folder("llama-tiny");
        Path folder = Files.createDirectories(temp.resolve(configEdit));
        String config = Files.readString(source.resolve("config.json"));
        if (!config.contains(from)) throw new IllegalStateException("the fixture's config.json has no " + from);
        Files.writeString(folder.resolve("config.json"), config.replace(from, to));
        Files.copy(source.resolve("model.safetensors"), folder.resolve("model.safetensors"));
        return folder;
    }

    @Test
    void headsWhoseWidthOverflowsATensorDimensionAreRefused() throws IOException {
        Path folder = llamaFolder("wide", "\"num_attention_heads\": 4",
                "\"head_dim\": 1073741824, \"num_attention_heads\": 4");
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> HuggingFaceCheckpoint.load(folder, backend));
        assertMentions(e, folder.resolve("config.json").toString(), "heads of size 1073741824",
                "wider than a tensor dimension");
    }

    @Test
    void zeroAttentionHeadsAreRefusedNotDividedBy() throws IOException {
        Path folder = llamaFolder("headless", "\"num_attention_heads\": 4", "\"num_attention_heads\": 0");
        JsonException e = assertThrows(JsonException.class, () -> HuggingFaceCheckpoint.load(folder, backend));
        assertMentions(e, folder.resolve("config.json").toString(), "num_attention_heads", "must be at least 1");
    }

    @Test
    void aNanWeightInASafetensorsCheckpointIsRefused() throws IOException {
        Path source = Fixtures.folder("gpt2-tiny");
        Path folder = Files.createDirectories(temp.resolve("gpt2-nan"));
        Files.copy(source.resolve("config.json"), folder.resolve("config.json"));
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        try (SafetensorsFile weights = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            for (String name : weights.names()) {
                TensorInfo info = weights.info(name);
                if (!info.dtype().readableAsFloat32()) continue;   // the causal-mask buffers, which are skipped
                float[] values = weights.readFloats(name);
                if (name.endsWith("ln_f.weight")) values[3] = Float.NEGATIVE_INFINITY;
                writer.add(name, values, info.intShape());
            }
        }
        writer.write(folder.resolve("model.safetensors"));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> HuggingFaceCheckpoint.load(folder, backend));
        assertMentions(e, folder.resolve("model.safetensors").toString(), "ln_f.weight' holds -Infinity at element 3");
    }
}
