package dev.promptgrad.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Replacing a file atomically, and cleaning up after content that fails halfway. */
class AtomicFileTest {

    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    @Test
    void createsAndReplaces() throws Exception {
        Path target = dir.resolve("adapter_config.json");
        AtomicFile.write(target, "{}".getBytes());
        assertEquals("{}", Files.readString(target));
        AtomicFile.write(target, "{\"a\": 1}".getBytes());
        assertEquals("{\"a\": 1}", Files.readString(target));
        assertEquals(List.of("adapter_config.json"), listing());
    }

    @Test
    void failingContentLeavesTheOldFileAndNoTemporaryFile() throws Exception {
        Path target = dir.resolve("state.bin");
        AtomicFile.write(target, "old".getBytes());
        IOException io = assertThrows(IOException.class, () -> AtomicFile.write(target, out -> {
            out.write(ByteBuffer.wrap("half of the new con".getBytes()));
            throw new IOException("disk full (injected)");
        }));
        assertEquals("disk full (injected)", io.getMessage());
        IllegalStateException bug = assertThrows(IllegalStateException.class, () -> AtomicFile.write(target, out -> {
            out.write(ByteBuffer.wrap("partial".getBytes()));
            throw new IllegalStateException("bug in the writer (injected)");
        }));
        assertEquals("bug in the writer (injected)", bug.getMessage());
        assertEquals("old", Files.readString(target));
        assertEquals(List.of("state.bin"), listing());
    }
}
