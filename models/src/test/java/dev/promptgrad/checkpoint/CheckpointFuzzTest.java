package dev.promptgrad.checkpoint;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.safetensors.SafetensorsException;
import dev.promptgrad.testing.HostileInput;

import java.nio.file.Path;

/**
 * Fuzz targets for model checkpoints: a Hugging Face folder (config.json and model.safetensors, the two parts of
 * one input) and a llama2.c .bin either load onto the reference backend or fail with the reader's exception naming
 * the folder or file. The reference backend keeps weights on the Java heap, so the fuzz run's small heap bounds
 * what a header can make the reader allocate. Seeds: tools/fuzz_seeds.py.
 */
class CheckpointFuzzTest {
    private static final Path FOLDER = HostileInput.workFolder("checkpoint-folder");
    private static final Path LLAMA2C = HostileInput.workFolder("checkpoint-llama2c").resolve("model.bin");
    private static final Backend BACKEND = new ReferenceBackend();

    @FuzzTest(maxDuration = "5m")
    void huggingFaceFolder(byte[] input) {
        byte[][] parts = HostileInput.split(input);
        HostileInput.write(FOLDER.resolve("config.json"), parts[0]);
        HostileInput.write(FOLDER.resolve("model.safetensors"), parts[1]);
        HostileInput.expectOnly(() -> {
            try (LanguageModel model = HuggingFaceCheckpoint.load(FOLDER, BACKEND)) {
                model.embeddingTable();
            }
        }, FOLDER, CheckpointException.class, JsonException.class, SafetensorsException.class);
    }

    @FuzzTest(maxDuration = "5m")
    void llama2c(byte[] input) {
        HostileInput.write(LLAMA2C, input);
        HostileInput.expectOnly(() -> Llama2cCheckpoint.load(LLAMA2C, BACKEND).close(), LLAMA2C,
                CheckpointException.class);
    }
}
