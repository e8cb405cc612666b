package dev.promptgrad.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.testing.HostileInput;

import java.nio.file.Path;

/**
 * Fuzz target for JSONL training data: any bytes read as examples (through {@link CharTokenizer}) or fail with a
 * DataFormatException naming the file. Seed: the three line forms (tools/fuzz_seeds.py).
 */
class JsonlFuzzTest {
    private static final Path FILE = HostileInput.workFolder("jsonl").resolve("data.jsonl");
    private static final CharTokenizer TOKENIZER = new CharTokenizer();
    private static final JsonlReader READER = new JsonlReader(TOKENIZER,
            new BosEosRule(TOKENIZER.bos(), TOKENIZER.eos()), TOKENIZER.vocabSize(), 64, "the fuzz target's limit");

    @FuzzTest(maxDuration = "5m")
    void jsonl(byte[] input) {
        HostileInput.write(FILE, input);
        HostileInput.expectOnly(() -> READER.read(FILE), FILE, DataFormatException.class);
    }
}
