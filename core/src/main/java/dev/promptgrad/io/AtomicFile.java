package dev.promptgrad.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see either the old content or the complete new one, never a half-written
 * file: the bytes go to a hidden temporary file in the same folder ({@code .NAME.RANDOM.tmp}), are forced to
 * disk, and the temporary file is then renamed over the target in one atomic step. On any failure the
 * temporary file is deleted and an existing target is left untouched. It does not lock against concurrent
 * writers (the last rename wins) and does not copy the old file's permissions.
 */
public final class AtomicFile {

    /** Produces the new content. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel out) throws IOException;
    }

    private AtomicFile() {
    }

    /** Replaces (or creates) {@code target} with what {@code content} writes. */
    public static void write(Path target, Content content) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path folder = absolute.getParent();
        if (folder == null) throw new IOException(target + ": cannot write a file at the root of the file system");
        String name = absolute.getFileName().toString();
        Path temporary = null;
        FileChannel out = null;
        for (int attempt = 0; out == null; attempt++) {
            temporary = folder.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
            try {
                out = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 9) throw taken;
            }
        }
        try {
            try (FileChannel channel = out) {
                content.writeTo(channel);
                channel.force(true);
            }
            Files.move(temporary, absolute, StandardCopyOption.ATOMIC_MOVE);
        } catch (Throwable failure) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException cleanup) {
                failure.addSuppressed(cleanup);
            }
            throw failure;
        }
    }

    /** Replaces (or creates) {@code target} with {@code bytes}. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) out.write(buffer);
        });
    }
}
