package dev.promptgrad.backend.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A parallel for-loop over rows: splits [0, rows) into contiguous chunks, runs all but one on a fixed pool
 * of Java threads and the last on the calling thread, and returns when every chunk is done. Small loops
 * run inline. It is the CPU backend's only source of Java parallelism; it is not a general task scheduler.
 */
final class ParallelRows implements AutoCloseable {

    /** A loop body over rows [from, to). */
    @FunctionalInterface
    interface Body {
        void run(int from, int to);
    }

    /** Below this many element operations per call a loop runs inline: a hand-off costs tens of microseconds. */
    static final long MIN_PARALLEL_WORK = 1 << 15;

    private static final AtomicInteger POOLS = new AtomicInteger();

    private final int threads;              // threads working on one loop, the caller included
    private final ExecutorService workers;  // threads − 1 daemon threads; null when threads == 1
    private volatile boolean closed;

    ParallelRows(int threads) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be ≥ 1, not " + threads);
        this.threads = threads;
        if (threads == 1) {
            workers = null;
        } else {
            int pool = POOLS.incrementAndGet();
            AtomicInteger index = new AtomicInteger();
            ThreadFactory factory = r -> {
                Thread t = new Thread(r, "promptgrad-cpu-" + pool + "-" + index.incrementAndGet());
                t.setDaemon(true);
                return t;
            };
            workers = Executors.newFixedThreadPool(threads - 1, factory);
        }
    }

    int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over [0, rows), in parallel when {@code rows · workPerRow} (element operations,
     * roughly) is worth the hand-off. Exceptions thrown by any chunk are rethrown here after all chunks end.
     */
    void forRows(int rows, long workPerRow, Body body) {
        long work = (long) rows * Math.max(1, workPerRow);
        split(rows, (int) Math.min(threads, Math.max(1, work / MIN_PARALLEL_WORK)), body);
    }

    /** Runs {@code body} over [0, rows) in {@code min(threads, rows)} chunks, whatever the work. */
    void forEveryRow(int rows, Body body) {
        split(rows, threads, body);
    }

    private void split(int rows, int maxChunks, Body body) {
        if (closed) throw new IllegalStateException("the CPU backend was closed; its kernels cannot run any more");
        int chunks = Math.min(maxChunks, rows);
        if (chunks <= 1) {
            if (rows > 0) body.run(0, rows);
            return;
        }
        CountDownLatch done = new CountDownLatch(chunks - 1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int c = 0; c < chunks - 1; c++) {
            int from = chunkStart(c, chunks, rows), to = chunkStart(c + 1, chunks, rows);
            workers.execute(() -> {
                try {
                    body.run(from, to);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    done.countDown();
                }
            });
        }
        try {
            body.run(chunkStart(chunks - 1, chunks, rows), rows);
        } catch (Throwable e) {
            failure.compareAndSet(null, e);
        }
        awaitAll(done);
        Throwable e = failure.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error err) throw err;
        if (e != null) throw new IllegalStateException("a CPU kernel worker failed", e);
    }

    private static int chunkStart(int chunk, int chunks, int rows) {
        return (int) ((long) chunk * rows / chunks);
    }

    /** Waits for the workers even when interrupted (they write into tensors the caller owns), then re-interrupts. */
    private static void awaitAll(CountDownLatch done) {
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    @Override
    public void close() {
        closed = true;
        if (workers != null) workers.shutdown();
    }
}
