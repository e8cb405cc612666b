package dev.promptgrad.safetensors;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.testing.HostileInput;

import java.nio.file.Path;

/**
 * Fuzz targets for safetensors files and shard indexes: any bytes open and read every tensor, or fail with a
 * SafetensorsException naming the file; nothing is allocated on a header's word beyond what the file holds. Seeds
 * and found inputs are in src/test/resources/dev/promptgrad/safetensors/SafetensorsFuzzTestInputs.
 */
class SafetensorsFuzzTest {
    private static final Path FOLDER = HostileInput.workFolder("safetensors");
    private static final Path FILE = FOLDER.resolve("model.safetensors");
    private static final Path INDEX = FOLDER.resolve("model.safetensors.index.json");

    static {
        SafetensorsWriter shard = new SafetensorsWriter().metadata("format", "pt");
        shard.add("a", new float[]{1, 2, 3, 4}, 2, 2);
        shard.write(FOLDER.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("b", new float[]{5, 6}, 2).write(FOLDER.resolve("model-00002-of-00002.safetensors"));
    }

    @FuzzTest(maxDuration = "5m")
    void file(byte[] input) {
        HostileInput.write(FILE, input);
        HostileInput.expectOnly(() -> readAll(SafetensorsFile.open(FILE)), FILE, SafetensorsException.class);
    }

    @FuzzTest(maxDuration = "5m")
    void shardIndex(byte[] input) {
        HostileInput.write(INDEX, input);
        HostileInput.expectOnly(() -> readAll(ShardedSafetensors.open(INDEX)), FOLDER, SafetensorsException.class);
    }

    private static void readAll(TensorSource source) {
        try (source) {
            source.metadata();
            for (String name : source.names()) {
                TensorInfo info = source.info(name);
                if (info.dtype().readableAsFloat32()) source.readFloats(name);
                if (info.dtype().readableAsLong()) source.readLongs(name);
            }
        }
    }
}
