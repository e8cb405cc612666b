package dev.promptgrad.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Crafted training data (docs/fuzzing.md): a file larger than the reader holds at once, a line nested past the
 * JSON depth limit, and a number JSON cannot hold. Each is refused with the file (and line) named.
 */
class HostileJsonlTest {
    @TempDir
    Path temp;

    private final CharTokenizer tokenizer = new CharTokenizer();
    private final JsonlReader reader = new JsonlReader(tokenizer, new BosEosRule(tokenizer.bos(), tokenizer.eos()),
            tokenizer.vocabSize(), 64, "the test's limit");

    @Test
    void aFileOverTheLimitIsRefusedBeforeItIsRead() throws IOException {
        Path file = temp.resolve("huge.jsonl");
        try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(JsonlReader.MAX_FILE_BYTES + 1);
        }
        DataFormatException e = assertThrows(DataFormatException.class, () -> reader.read(file));
        assertMentions(e, file.toString(), "the file is " + (JsonlReader.MAX_FILE_BYTES + 1) + " bytes",
                "split it into smaller files");
    }

    @Test
    void aLineNestedPastTheDepthLimitIsRefusedOnItsLine() throws IOException {
        Path file = Files.writeString(temp.resolve("deep.jsonl"),
                "{\"text\": \"ab\"}\n{\"text\": " + "[".repeat(100_000) + "\n");
        DataFormatException e = assertThrows(DataFormatException.class, () -> reader.read(file));
        assertMentions(e, file + ":2:", "nest deeper than the limit of 512 levels");
    }

    @Test
    void nanAndHugeNumbersAreNotJson() throws IOException {
        Path nan = Files.writeString(temp.resolve("nan.jsonl"), "{\"input_ids\": [NaN]}\n");
        assertMentions(assertThrows(DataFormatException.class, () -> reader.read(nan)), nan + ":1:",
                "not valid JSON");
        Path huge = Files.writeString(temp.resolve("huge-number.jsonl"), "{\"input_ids\": [1e999]}\n");
        assertMentions(assertThrows(DataFormatException.class, () -> reader.read(huge)), huge + ":1:",
                "too large for a 64-bit float");
    }
}
