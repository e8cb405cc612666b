package dev.promptgrad.prompt;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.testing.HostileInput;

import java.nio.file.Path;

/**
 * Fuzz target for PEFT adapter folders: adapter_config.json and adapter_model.safetensors (the two parts of one
 * input) either read as a finite soft prompt or fail with an AdapterFormatException naming the folder.
 * Seed: gpt2-tiny's adapter (tools/fuzz_seeds.py).
 */
class PeftAdapterFuzzTest {
    private static final Path FOLDER = HostileInput.workFolder("adapter");

    @FuzzTest(maxDuration = "5m")
    void adapter(byte[] input) {
        byte[][] parts = HostileInput.split(input);
        HostileInput.write(FOLDER.resolve(PeftAdapter.CONFIG_FILE), parts[0]);
        HostileInput.write(FOLDER.resolve(PeftAdapter.WEIGHTS_FILE), parts[1]);
        HostileInput.expectOnly(() -> PeftAdapter.read(FOLDER).requireWidth(16, "gpt2-tiny"), FOLDER,
                AdapterFormatException.class);
    }
}
