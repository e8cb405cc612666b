package dev.promptgrad.safetensors;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.io.DiskFullException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The writer's argument checks, its header text, and that a failed write leaves the old file alone. */
class SafetensorsWriterTest {

    @TempDir
    Path dir;

    private List<String> folderListing() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
    }

    /** A channel that accepts {@code limit} bytes and then fails, as a full disk would. */
    private static WritableByteChannel failingAfter(WritableByteChannel out, int limit) {
        return new WritableByteChannel() {
            private int written;

            @Override
            public int write(ByteBuffer src) throws IOException {
                if (written + src.remaining() > limit) throw new IOException("No space left on device (injected)");
                written += src.remaining();
                return out.write(src);
            }

            @Override
            public boolean isOpen() {
                return out.isOpen();
            }

            @Override
            public void close() throws IOException {
                out.close();
            }
        };
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws Exception {
        Path target = dir.resolve("adapter_model.safetensors");
        new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", new float[] {1, 2}, 1, 2).write(target);
        byte[] before = Files.readAllBytes(target);

        SafetensorsWriter bigger = new SafetensorsWriter().metadata("format", "pt")
                .add("prompt_embeddings", new float[40_000], 20, 2000);
        DiskFullException e = assertThrows(DiskFullException.class,
                () -> AtomicFile.write(target, out -> bigger.writeTo(failingAfter(out, 70_000))));
        assertEquals("no space left on device while writing " + target.toAbsolutePath(), e.getMessage());
        assertEquals("No space left on device (injected)", e.getCause().getMessage());
        assertArrayEquals(before, Files.readAllBytes(target));
        assertEquals(List.of("adapter_model.safetensors"), folderListing());

        bigger.write(target);
        try (SafetensorsFile f = SafetensorsFile.open(target)) {
            assertEquals(40_000, f.readFloats("prompt_embeddings").length, "a later write replaces the file");
        }
        assertEquals(List.of("adapter_model.safetensors"), folderListing());
    }

    @Test
    void aTargetThatCannotBeReplacedIsReportedAndLeftAlone() throws Exception {
        Path target = dir.resolve("model.safetensors");
        Files.createDirectory(target);
        Files.writeString(target.resolve("keep.txt"), "x");
        SafetensorsException e = assertThrows(SafetensorsException.class,
                () -> new SafetensorsWriter().add("w", new float[] {1}, 1).write(target));
        assertTrue(e.getMessage().startsWith(target + ": could not write the safetensors file ("), e.getMessage());
        assertTrue(e.getMessage().endsWith("); any previous file there is unchanged"), e.getMessage());
        assertEquals("x", Files.readString(target.resolve("keep.txt")));
        assertEquals(List.of("model.safetensors"), folderListing());

        Path noFolder = dir.resolve("missing").resolve("model.safetensors");
        SafetensorsException missing = assertThrows(SafetensorsException.class,
                () -> new SafetensorsWriter().add("w", new float[] {1}, 1).write(noFolder));
        assertTrue(missing.getMessage().startsWith(noFolder + ": could not write the safetensors file"
                + " (java.nio.file.NoSuchFileException"), missing.getMessage());
    }

    @Test
    void headerKeepsMetadataFirstThenTensorsInOrderWithRawUtf8() {
        SafetensorsWriter writer = new SafetensorsWriter()
                .add("z", new float[] {1, 2}, 2)
                .addLongs("ids", new long[] {7}, 1)
                .metadata("format", "pt")
                .metadata("note", "caf\u00e9")
                .add("a", SafetensorsDType.F16, new float[] {1}, 1);
        String header = new String(writer.header(), StandardCharsets.UTF_8);
        assertEquals("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\u00e9\"},"
                + "\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                + "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[16,18]}}     ", header, "211 UTF-8 bytes + 5 spaces");
        assertEquals(0, writer.header().length % 8);
        assertEquals("{}      ", new String(new SafetensorsWriter().header(), StandardCharsets.US_ASCII));
    }

    @Test
    void rejectsBadArguments() {
        SafetensorsWriter writer = new SafetensorsWriter().add("w", new float[] {1, 2}, 2).metadata("format", "pt");
        assertEquals("tensor 'w' was already added",
                assertThrows(IllegalArgumentException.class, () -> writer.add("w", new float[] {1}, 1)).getMessage());
        assertEquals("'__metadata__' cannot name a tensor",
                assertThrows(IllegalArgumentException.class, () -> writer.add("__metadata__", new float[] {1}, 1))
                        .getMessage());
        assertEquals("tensor 'x' has 3 values, but shape [2, 2] holds 4",
                assertThrows(IllegalArgumentException.class, () -> writer.add("x", new float[3], 2, 2)).getMessage());
        assertEquals("tensor 'x' has 3 values, but shape [0, 3] holds 0",
                assertThrows(IllegalArgumentException.class, () -> writer.add("x", new float[3], 0, 3)).getMessage());
        assertEquals("tensor 'x' has 1 values, but shape [2147483647, 2147483647, 2147483647] holds more than"
                        + " 9223372036854775807",
                assertThrows(IllegalArgumentException.class,
                        () -> writer.add("x", new float[1], Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE))
                        .getMessage());
        assertEquals("tensor 'x' shape [-1] has a negative dimension",
                assertThrows(IllegalArgumentException.class, () -> writer.add("x", new float[1], -1)).getMessage());
        assertEquals("tensor 'x': float values can be stored as F32, F16 or BF16, not I8",
                assertThrows(IllegalArgumentException.class,
                        () -> writer.add("x", SafetensorsDType.I8, new float[1], 1)).getMessage());
        assertEquals("metadata key 'format' was already set",
                assertThrows(IllegalArgumentException.class, () -> writer.metadata("format", "np")).getMessage());
    }

    @Test
    void valuesAreCopiedWhenAdded() {
        float[] values = {1, 2};
        SafetensorsWriter writer = new SafetensorsWriter().add("w", values, 2);
        values[0] = 99;
        Path file = dir.resolve("copy.safetensors");
        writer.write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {1, 2}, f.readFloats("w"));
        }
    }
}
