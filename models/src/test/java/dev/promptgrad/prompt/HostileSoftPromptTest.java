package dev.promptgrad.prompt;

import dev.promptgrad.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Crafted soft-prompt files the fuzzers found or the audit named (docs/fuzzing.md): a KoboldAI .zip cut off inside
 * its deflated tensor or its end record, which escaped as an I/O error, and a .npy too large to read at once.
 * Each is an AdapterFormatException naming the file.
 */
class HostileSoftPromptTest {
    @TempDir
    Path temp;

    private static byte[] deflatedFixture() throws IOException {
        return Files.readAllBytes(Fixtures.folder("gpt2-tiny").getParent().resolve("soft-prompts/kobold-deflated.zip"));
    }

    @Test
    void aZipCutOffInsideItsEndRecordIsAFormatError() throws IOException {
        byte[] zip = deflatedFixture();
        Path file = Files.write(temp.resolve("cut.zip"), Arrays.copyOf(zip, zip.length - 10));
        AdapterFormatException e = assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(file));
        assertMentions(e, file.toString(), "is not a readable zip archive");
    }

    @Test
    void aDeflatedTensorCutShortIsAFormatError() throws IOException {
        byte[] zip = deflatedFixture();
        // keep the archive's directory but blank the middle of the first entry's deflated data
        byte[] damaged = zip.clone();
        Arrays.fill(damaged, 60, 120, (byte) 0);
        Path file = Files.write(temp.resolve("damaged.zip"), damaged);
        AdapterFormatException e = assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(file));
        assertMentions(e, file.toString(), "tensor.npy");
    }

    @Test
    void anOversizedNpyIsRefusedBeforeItIsRead() throws IOException {
        Path file = temp.resolve("huge.npy");
        try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(KoboldSoftPrompt.MAX_TENSOR_BYTES + 1);
        }
        AdapterFormatException e = assertThrows(AdapterFormatException.class,
                () -> NpyArray.read(file, KoboldSoftPrompt.MAX_TENSOR_BYTES));
        assertMentions(e, file.toString(), "more than the " + KoboldSoftPrompt.MAX_TENSOR_BYTES);
    }
}
