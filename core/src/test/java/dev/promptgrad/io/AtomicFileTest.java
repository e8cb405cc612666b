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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replacing a file atomically, cleaning up after content that fails halfway, a full disk named as such, staging
 * several files before any replaces its target, and deleting the temporaries a killed writer leaves.
 */
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

    @Test
    void aFullDiskIsNamedWithItsTarget() throws Exception {
        Path target = dir.resolve("adapter_model.safetensors");
        AtomicFile.write(target, "old".getBytes());
        IOException enospc = new IOException("No space left on device");
        DiskFullException full = assertThrows(DiskFullException.class, () -> AtomicFile.write(target, out -> {
            out.write(ByteBuffer.wrap("some of it".getBytes()));
            throw enospc;
        }));
        assertEquals("no space left on device while writing " + target.toAbsolutePath(), full.getMessage());
        assertEquals(target.toAbsolutePath(), full.target());
        assertSame(enospc, full.getCause());
        assertEquals("old", Files.readString(target));
        assertEquals(List.of("adapter_model.safetensors"), listing());
        IOException denied = assertThrows(IOException.class, () -> AtomicFile.write(target, out -> {
            throw new IOException("Permission denied");
        }));
        assertFalse(denied instanceof DiskFullException, "only a full disk is a DiskFullException");
    }

    @Test
    void stagedFilesReplaceNothingUntilCommitted() throws Exception {
        Path first = dir.resolve("a.json"), second = dir.resolve("b.json");
        AtomicFile.write(first, "a1".getBytes());
        AtomicFile.write(second, "b1".getBytes());
        try (AtomicFile.Staged a = AtomicFile.stage(first, "a2".getBytes());
             AtomicFile.Staged b = AtomicFile.stage(second, "b2".getBytes())) {
            assertEquals("a1", Files.readString(first));
            assertEquals("b1", Files.readString(second));
            assertEquals(4, listing().size(), "two targets and two temporaries: " + listing());
            a.commit();
            assertEquals("a2", Files.readString(first));
            assertEquals("b1", Files.readString(second));
            assertThrows(IllegalStateException.class, a::commit);
        }
        assertEquals("b1", Files.readString(second), "b was never committed");
        assertEquals(List.of("a.json", "b.json"), listing());
    }

    @Test
    void deletesOnlyTheTemporariesItNames() throws Exception {
        Path target = dir.resolve("state.bin");
        AtomicFile.Staged abandoned = AtomicFile.stage(target, "new".getBytes());
        Files.writeString(dir.resolve(".notes.tmp"), "not ours: no hexadecimal part");
        Files.writeString(dir.resolve("state.bin.1f.tmp"), "not ours: not hidden");
        assertEquals(3, listing().size());
        assertEquals(1, AtomicFile.deleteLeftovers(dir));
        assertEquals(List.of(".notes.tmp", "state.bin.1f.tmp"), listing());
        assertFalse(Files.exists(target));
        assertEquals(0, AtomicFile.deleteLeftovers(dir.resolve("missing")));
        abandoned.close();
        assertTrue(Files.isDirectory(dir));
    }
}
