package dev.promptgrad.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The contract every fuzz target checks (see docs/fuzzing.md): a reader given any bytes either succeeds or throws
 * one of its documented exception types, whose message names the file it read; anything else (an
 * ArrayIndexOutOfBounds, NegativeArraySize, OutOfMemoryError, StackOverflowError, a message without the file) is
 * rethrown for Jazzer to report, and so is a hang. Also scratch files for the inputs and the two-part inputs of targets that read a
 * folder. Test code only.
 */
public final class HostileInput {
    /** The longest one input may take to read before the target reports a hang. */
    public static final int SECONDS_PER_INPUT = 20;

    private static ExecutorService worker = newWorker();

    private HostileInput() {
    }

    /** A reader call on hostile input. */
    @FunctionalInterface
    public interface Read {
        void run() throws IOException;
    }

    /**
     * Runs {@code read}; an exception of one of the {@code allowed} types passes when its message mentions
     * {@code source}, every other throwable fails the target, and so does a read that takes more than
     * {@link #SECONDS_PER_INPUT} seconds (a hang). The read runs on a worker thread so that the limit holds in
     * regression and fuzzing mode alike.
     */
    @SafeVarargs
    public static void expectOnly(Read read, Object source, Class<? extends RuntimeException>... allowed) {
        Future<?> reading = worker.submit(() -> {
            read.run();
            return null;
        });
        try {
            reading.get(SECONDS_PER_INPUT, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            reading.cancel(true);
            worker = newWorker();   // the stuck thread keeps running; the next input gets a fresh one
            throw new AssertionError("the reader took more than " + SECONDS_PER_INPUT + " s on this input", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for the reader", e);
        } catch (ExecutionException e) {
            check(e.getCause(), source, allowed);
        }
    }

    private static void check(Throwable thrown, Object source, Class<? extends RuntimeException>[] allowed) {
        if (thrown instanceof IOException io) {
            throw new UncheckedIOException("the fuzz target could not use its scratch files", io);
        }
        if (thrown instanceof Error error) throw error;
        RuntimeException e = (RuntimeException) thrown;
        if (Arrays.stream(allowed).noneMatch(type -> type.isInstance(e))) throw e;
        String message = String.valueOf(e.getMessage());
        if (!message.contains(source.toString())) {
            throw new AssertionError("a " + e.getClass().getSimpleName() + " whose message does not name "
                    + source + ": " + message, e);
        }
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-target-reader");
            t.setDaemon(true);
            return t;
        });
    }

    /** A folder for one target's scratch files under target/fuzz-work, created once and reused by every input. */
    public static Path workFolder(String target) {
        Path folder = Path.of("target", "fuzz-work", target);
        try {
            return Files.createDirectories(folder);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code bytes} to {@code file}, replacing what the previous input left there. */
    public static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The two parts of an input for a target that reads two files: a little-endian int32 length n, n bytes, then
     * the rest. A length that does not fit takes the whole remainder as the first part.
     */
    public static byte[][] split(byte[] input) {
        if (input.length < 4) return new byte[][]{input, new byte[0]};
        int n = ByteBuffer.wrap(input, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int first = n < 0 || n > input.length - 4 ? input.length - 4 : n;
        return new byte[][]{Arrays.copyOfRange(input, 4, 4 + first), Arrays.copyOfRange(input, 4 + first, input.length)};
    }
}
