package dev.promptgrad.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * A parallel for-loop over rows: splits [0, rows) into contiguous chunks, several per thread, which the calling
 * thread and a fixed set of Java worker threads claim one at a time, and returns when every chunk is done. Claiming
 * rather than assigning chunks matters on a shared machine: when the scheduler pauses one thread, the others take
 * its remaining chunks instead of waiting for it, and the caller waits only for chunks, never for a worker that has
 * not started yet. Between loops a worker spins for {@link #SPIN_NANOS} before it parks, and the caller spins as
 * long before it parks while the last chunks finish: a step is hundreds of kernels a few microseconds apart, and a
 * parked thread on a busy machine waits for a core to wake up again (OpenMP and OpenBLAS spin for the same reason).
 * Small loops run inline. It is the CPU backend's only source of Java parallelism; it is not a general scheduler.
 */
final class ParallelRows implements AutoCloseable {

    /** A loop body over rows [from, to). */
    @FunctionalInterface
    interface Body {
        void run(int from, int to);
    }

    /** Below this many element operations per call a loop runs inline: a hand-off costs tens of microseconds. */
    static final long MIN_PARALLEL_WORK = 1 << 15;

    /** Chunks per taking-part thread, so that a running thread can take over a paused one's share. */
    static final int CHUNKS_PER_THREAD = 4;

    /** How long an idle thread spins for the next loop (a worker) or the last chunks (the caller) before parking. */
    static final long SPIN_NANOS = 200_000;

    /** One loop: its chunks, the next one to claim, how many are not finished yet, and the first failure. */
    private static final class Loop {
        final Body body;
        final int rows, chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger unfinished;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread caller = Thread.currentThread();

        Loop(Body body, int rows, int chunks) {
            this.body = body;
            this.rows = rows;
            this.chunks = chunks;
            this.unfinished = new AtomicInteger(chunks);
        }

        /** Claims and runs chunks until none is left; wakes the caller when this thread finished the last one. */
        void claim() {
            for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
                try {
                    body.run(chunkStart(c, chunks, rows), chunkStart(c + 1, chunks, rows));
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    if (unfinished.decrementAndGet() == 0 && Thread.currentThread() != caller) LockSupport.unpark(caller);
                }
            }
        }
    }

    private static final AtomicInteger POOLS = new AtomicInteger();

    private final int threads;                   // threads working on one loop, the caller included
    private final Thread[] workers;              // threads − 1 daemon threads
    private volatile Loop current;               // the latest loop; workers run each one they see at most once
    private volatile boolean closed;

    ParallelRows(int threads) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be ≥ 1, not " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        int pool = POOLS.incrementAndGet();
        for (int w = 0; w < workers.length; w++) {
            workers[w] = new Thread(this::work, "promptgrad-cpu-" + pool + "-" + (w + 1));
            workers[w].setDaemon(true);
            workers[w].start();
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
        int helping = (int) Math.min(threads, Math.max(1, work / MIN_PARALLEL_WORK));
        split(rows, helping, CHUNKS_PER_THREAD, body);
    }

    /** Runs {@code body} over [0, rows) on every thread, in up to {@code CHUNKS_PER_THREAD · threads} chunks. */
    void forEveryRow(int rows, Body body) {
        forEveryRow(rows, CHUNKS_PER_THREAD, body);
    }

    /**
     * As {@link #forEveryRow(int, Body)} in up to {@code chunksPerThread · threads} chunks: fewer where every chunk
     * pays a fixed cost, such as reading a whole operand.
     */
    void forEveryRow(int rows, int chunksPerThread, Body body) {
        split(rows, threads, chunksPerThread, body);
    }

    /** Runs {@code body} over [0, rows) in up to {@code helping · chunksPerThread} chunks; inline when helping is 1. */
    private void split(int rows, int helping, int chunksPerThread, Body body) {
        if (closed) throw new IllegalStateException("the CPU backend was closed; its kernels cannot run any more");
        int chunks = (int) Math.min(rows, (long) helping * Math.max(1, chunksPerThread));
        if (workers.length == 0 || helping <= 1 || chunks <= 1) {
            if (rows > 0) body.run(0, rows);
            return;
        }
        Loop loop = new Loop(body, rows, chunks);
        current = loop;
        for (Thread worker : workers) LockSupport.unpark(worker);
        loop.claim();
        awaitChunks(loop);
        Throwable e = loop.failure.get();
        if (e instanceof RuntimeException re) throw re;
        if (e instanceof Error err) throw err;
        if (e != null) throw new IllegalStateException("a CPU kernel worker failed", e);
    }

    /**
     * Waits until every chunk is finished, also when interrupted (workers write into tensors the caller owns); the
     * interrupt is kept for the caller.
     */
    private static void awaitChunks(Loop loop) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (loop.unfinished.get() > 0) {
            if (System.nanoTime() < spinUntil) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(loop, SPIN_NANOS);   // the last finisher unparks us; the timeout is a safety net
            }
        }
    }

    /** A worker: runs each new loop it sees, spinning a while between loops before it parks. */
    private void work() {
        Loop done = null;
        while (!closed) {
            Loop loop = current;
            if (loop != null && loop != done) {
                loop.claim();
                done = loop;
                continue;
            }
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (current == done && !closed && System.nanoTime() < spinUntil) Thread.onSpinWait();
            if (current == done && !closed) LockSupport.park(this);
        }
    }

    private static int chunkStart(int chunk, int chunks, int rows) {
        return (int) ((long) chunk * rows / chunks);
    }

    @Override
    public void close() {
        closed = true;
        for (Thread worker : workers) LockSupport.unpark(worker);
    }
}
