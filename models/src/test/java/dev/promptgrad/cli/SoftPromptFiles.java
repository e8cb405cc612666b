package dev.promptgrad.cli;

import dev.promptgrad.safetensors.SafetensorsWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Random soft prompts written as PEFT adapter folders, for the command-line tests. Test code only. */
final class SoftPromptFiles {

    private SoftPromptFiles() {
    }

    /** rows × width values drawn from N(0, scale²) with {@code seed}. */
    static float[] random(int rows, int width, double scale, long seed) {
        Random random = new Random(seed);
        float[] values = new float[rows * width];
        for (int i = 0; i < values.length; i++) values[i] = (float) (scale * random.nextGaussian());
        return values;
    }

    /** A PROMPT_TUNING adapter folder holding {@code values} (rows, width). */
    static Path adapter(Path folder, float[] values, int rows, int width) {
        try {
            Files.createDirectories(folder);
            Files.writeString(folder.resolve("adapter_config.json"), "{\"peft_type\": \"PROMPT_TUNING\", \"num_virtual_tokens\": "
                    + rows + ", \"token_dim\": " + width + ", \"task_type\": \"CAUSAL_LM\"}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", values, rows, width)
                .write(folder.resolve("adapter_model.safetensors"));
        return folder;
    }
}
