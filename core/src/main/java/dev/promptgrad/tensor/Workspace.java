package dev.promptgrad.tensor;

import dev.promptgrad.backend.Backend;

import java.util.ArrayList;
import java.util.List;

/**
 * A step's activations and gradients: a bump allocator over chunks that {@link #reset()} rewinds.
 * The first step grows it; at each reset the chunks it used are merged into one, so every later step
 * of the same shapes allocates nothing (llm.c's preallocated activations, found by running once).
 * Tensors handed out before a reset must not be used after it. Within a step, {@link #mark()} and
 * {@link #rewind(Mark)} free the tensors allocated since the mark (stack order), so an op's temporaries can
 * share memory with the next op's; the merged chunk is sized for the step's peak, not its total.
 */
public final class Workspace extends Owner {
    private static final long MIN_CHUNK = 1 << 20;   // elements

    private final DType dtype;
    private final List<Buffer> chunks = new ArrayList<>();
    private int chunk;          // index of the chunk being filled
    private long cursor;        // next free element in that chunk
    private long inUse;         // elements handed out since the last reset and not rewound
    private long peak;          // the most elements in use at once since the last reset
    private long allocations;   // backend allocations made, for tests of "a step allocates nothing"

    public Workspace(Backend backend, DType dtype, String name) {
        super(backend, "workspace '" + name + "'");
        this.dtype = dtype;
    }

    public Workspace(Backend backend, String name) {
        this(backend, DType.F32, name);
    }

    public DType dtype() {
        return dtype;
    }

    /** An uninitialised tensor valid until the next {@link #reset()}. */
    public synchronized Tensor allocate(int... shape) {
        checkOpen();
        long n = Tensor.sizeOf(shape);
        long aligned = (n + 15) & ~15L;   // 64-byte alignment for F32 rows
        while (chunk < chunks.size() && cursor + n > chunks.get(chunk).length()) {
            chunk++;
            cursor = 0;
        }
        if (chunk == chunks.size()) {
            chunks.add(allocateBuffer(dtype, Math.max(MIN_CHUNK, aligned)));
            allocations++;
            cursor = 0;
        }
        Tensor t = new Tensor(chunks.get(chunk), cursor, shape);
        cursor += aligned;
        inUse += aligned;
        peak = Math.max(peak, inUse);
        return t;
    }

    /** A point in the allocation order that {@link #rewind(Mark)} returns to. */
    public record Mark(Workspace workspace, int chunk, long cursor, long inUse) {
    }

    /** The current allocation point, to rewind to once the tensors allocated after it are no longer used. */
    public synchronized Mark mark() {
        checkOpen();
        return new Mark(this, chunk, cursor, inUse);
    }

    /**
     * Frees every tensor allocated since {@code mark} (they must not be used afterwards); tensors allocated before
     * it stay valid. Marks must be rewound in stack order, and a reset forgets them all.
     */
    public synchronized void rewind(Mark mark) {
        checkOpen();
        if (mark.workspace() != this || mark.inUse() > inUse) {
            throw new IllegalArgumentException(label() + ": cannot rewind to " + mark
                    + "; it was taken on another workspace, before a reset, or after a later rewind");
        }
        chunk = mark.chunk();
        cursor = mark.cursor();
        inUse = mark.inUse();
    }

    /** Rewinds to empty. If the last step spilled over several chunks, they become one big enough for its peak. */
    public synchronized void reset() {
        checkOpen();
        if (chunks.size() > 1) {
            long need = Math.max(peak, MIN_CHUNK);
            for (Buffer b : chunks) releaseBuffer(b);
            chunks.clear();
            chunks.add(allocateBuffer(dtype, need));
            allocations++;
        }
        chunk = 0;
        cursor = 0;
        inUse = 0;
        peak = 0;
    }

    /** How many times this workspace has asked the backend for memory. */
    public synchronized long allocations() {
        return allocations;
    }
}
