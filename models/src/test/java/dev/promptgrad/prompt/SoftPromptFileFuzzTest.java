package dev.promptgrad.prompt;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.testing.HostileInput;

import java.nio.file.Path;

/**
 * Fuzz targets for the soft-prompt files of other tools: a KoboldAI .zip (tensor.npy and meta.json) and Lester's
 * .npy either read as a finite prompt or fail with an AdapterFormatException naming the file; entry names,
 * counts and inflated sizes are checked before anything is extracted. Seeds: tools/fuzz_seeds.py, from the
 * fixtures of tools/soft_prompt_fixtures.py.
 */
class SoftPromptFileFuzzTest {
    private static final Path ZIP = HostileInput.workFolder("kobold").resolve("prompt.zip");
    private static final Path NPY = HostileInput.workFolder("npy").resolve("prompt.npy");

    @FuzzTest(maxDuration = "5m")
    void koboldZip(byte[] input) {
        HostileInput.write(ZIP, input);
        HostileInput.expectOnly(() -> KoboldSoftPrompt.read(ZIP), ZIP, AdapterFormatException.class);
    }

    @FuzzTest(maxDuration = "5m")
    void npy(byte[] input) {
        HostileInput.write(NPY, input);
        HostileInput.expectOnly(() -> NpyArray.read(NPY, KoboldSoftPrompt.MAX_TENSOR_BYTES), NPY,
                AdapterFormatException.class);
    }
}
