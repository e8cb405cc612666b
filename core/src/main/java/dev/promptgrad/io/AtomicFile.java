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
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes a file so that readers see either the old content or the complete new one, never a half-written
 * file: the bytes go to a hidden temporary file in the same folder ({@code .NAME.RANDOM.tmp}), are forced to
 * disk, and the temporary file is then renamed over the target in one atomic step, and the folder's entry is
 * forced too. On any failure the temporary file is deleted and an existing target is left untouched; a full
 * disk is reported as a {@link DiskFullException} naming the target. {@link #stage} splits the two phases, so
 * that several files can be written completely before any of them replaces its target. It does not lock
 * against concurrent writers (the last rename wins) and does not copy the old file's permissions.
 */
public final class AtomicFile {

    /** The temporary files this class names: {@code .NAME.HEX.tmp}. */
    private static final Pattern TEMPORARY = Pattern.compile("\\..+\\.[0-9a-f]{1,16}\\.tmp");

    /** Produces the new content. */
    @FunctionalInterface
    public interface Content {
        void writeTo(FileChannel out) throws IOException;
    }

    /**
     * A new content written completely to its temporary file and forced to disk, not yet in place. {@link #commit}
     * puts it in place; {@link #close} deletes the temporary file unless it was committed.
     */
    public static final class Staged implements AutoCloseable {
        private final Path target;      // absolute
        private final Path temporary;   // beside the target
        private boolean committed;

        private Staged(Path target, Path temporary) {
            this.target = target;
            this.temporary = temporary;
        }

        /** The file this content replaces, as an absolute path. */
        public Path target() {
            return target;
        }

        /**
         * Renames the temporary file over the target in one atomic step, then forces the folder to disk (see
         * {@link #forceFolder}). A rename needs no new space on the disk.
         */
        public void commit() throws IOException {
            move();
            forceFolder(target.getParent());
        }

        /**
         * Renames the temporary file over the target in one atomic step, without forcing the folder: a caller
         * putting several files in place forces their folder once, after the last.
         */
        public void move() throws IOException {
            if (committed) throw new IllegalStateException(target + " was already committed");
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            committed = true;
        }

        /** Deletes the temporary file if the content was not committed; the target is untouched. */
        @Override
        public void close() throws IOException {
            if (!committed) Files.deleteIfExists(temporary);
        }
    }

    private AtomicFile() {
    }

    /** Replaces (or creates) {@code target} with what {@code content} writes. */
    public static void write(Path target, Content content) throws IOException {
        try (Staged staged = stage(target, content)) {
            staged.commit();
        }
    }

    /** Replaces (or creates) {@code target} with {@code bytes}. */
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, bytesOf(bytes));
    }

    /**
     * Writes what {@code content} writes to a new temporary file beside {@code target} and forces it to disk,
     * without touching the target. On failure the temporary file is deleted before the exception leaves.
     *
     * @throws DiskFullException if the file system had no room for it
     */
    public static Staged stage(Path target, Content content) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path folder = absolute.getParent();
        if (folder == null) throw new IOException(target + ": cannot write a file at the root of the file system");
        String name = absolute.getFileName().toString();
        Path temporary = null;
        FileChannel out = null;
        for (int attempt = 0; out == null; attempt++) {
            temporary = folder.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                    + ".tmp");
            try {
                out = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 9) throw taken;
            } catch (IOException e) {
                throw DiskFullException.isDiskFull(e) ? new DiskFullException(absolute, e) : e;
            }
        }
        try {
            try (FileChannel channel = out) {
                content.writeTo(channel);
                channel.force(true);
            }
            return new Staged(absolute, temporary);
        } catch (Throwable failure) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException cleanup) {
                failure.addSuppressed(cleanup);
            }
            if (failure instanceof IOException io && DiskFullException.isDiskFull(io)) {
                throw new DiskFullException(absolute, io);
            }
            throw failure;
        }
    }

    /** {@link #stage} of {@code bytes}. */
    public static Staged stage(Path target, byte[] bytes) throws IOException {
        return stage(target, bytesOf(bytes));
    }

    /**
     * Deletes the temporary files this class leaves in {@code folder} when the process is killed between
     * writing one and renaming it ({@code .NAME.HEX.tmp}); other files are untouched. A missing folder has none.
     *
     * @return how many were deleted
     */
    public static int deleteLeftovers(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) return 0;
        int deleted = 0;
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                if (TEMPORARY.matcher(entry.getFileName().toString()).matches() && Files.isRegularFile(entry)
                        && Files.deleteIfExists(entry)) {
                    deleted++;
                }
            }
        }
        return deleted;
    }

    private static Content bytesOf(byte[] bytes) {
        return out -> {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) out.write(buffer);
        };
    }

    /**
     * Forces {@code folder}'s entries (renames just made) to disk, so that the new files survive a power cut
     * as well as a killed process. Best effort: platforms that cannot open a folder as a channel (Windows)
     * skip it, and the renames reach the disk with the file system's next sync.
     */
    public static void forceFolder(Path folder) {
        try (FileChannel channel = FileChannel.open(folder, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException notSupported) {
            // the rename is in place either way; only its durability across a power cut is not forced here
        }
    }
}
