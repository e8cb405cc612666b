package dev.promptgrad.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The CUDA backend's device memory: requests are rounded up to a size class and freed blocks are kept for the
 * next request of the same class instead of going back to cudaFree, which is slow and synchronises the device.
 * A training step's workspace is reallocated rarely, but scopes and the kernels' small index arrays come and go
 * every step. It is not a general allocator: no splitting of blocks, one pool (the backend has one stream, so
 * a block freed while queued kernels still read it is only reused by work queued after them).
 *
 * <p>Size classes: up to 1 MiB a request is rounded up to a multiple of 512 bytes, above it to a multiple of
 * 2 MiB, so a class wastes at most 2 MiB and few classes exist for workspace-sized buffers. When the device has
 * no room, every cached block is freed and the request tried once more before it fails.
 */
final class CachingAllocator {
    static final long SMALL_ALIGNMENT = 512;
    static final long LARGE_THRESHOLD = 1L << 20;
    static final long LARGE_ALIGNMENT = 2L << 20;

    /** Device memory handed out: its address and its size class in bytes; both 0 for an empty request. */
    record Block(long address, long size) {
    }

    private final DeviceMemory memory;
    private final TreeMap<Long, ArrayDeque<Long>> cache = new TreeMap<>();  // size class → free addresses
    private final Map<Long, Long> inUse = new HashMap<>();                  // address → size class
    private long reservedBytes;      // obtained from the device: in use plus cached
    private long cachedBytes;        // kept free for reuse
    private long peakReservedBytes;

    CachingAllocator(DeviceMemory memory) {
        this.memory = memory;
    }

    /** The bytes actually reserved for a request of {@code bytes}. */
    static long sizeClass(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation of " + bytes + " bytes");
        long alignment = bytes <= LARGE_THRESHOLD ? SMALL_ALIGNMENT : LARGE_ALIGNMENT;
        return Math.addExact(bytes, alignment - 1) / alignment * alignment;
    }

    /** A block of at least {@code bytes}, from the cache when one of its class is free. */
    synchronized Block allocate(long bytes, String label) {
        long size = sizeClass(bytes);
        if (size == 0) return new Block(0, 0);
        ArrayDeque<Long> free = cache.get(size);
        if (free != null && !free.isEmpty()) {
            long address = free.pop();
            cachedBytes -= size;
            inUse.put(address, size);
            return new Block(address, size);
        }
        long address = memory.allocate(size, label);
        if (address == 0 && cachedBytes > 0) {
            releaseCached();
            address = memory.allocate(size, label);
        }
        if (address == 0) {
            throw new OutOfMemoryError("allocate: the device has no room for " + bytes + " bytes of " + label + " ("
                    + (reservedBytes - cachedBytes) + " bytes in use by this backend; " + memory.describe()
                    + "); close unused owners, or use a smaller batch or sequence length");
        }
        reservedBytes += size;
        peakReservedBytes = Math.max(peakReservedBytes, reservedBytes);
        inUse.put(address, size);
        return new Block(address, size);
    }

    /** Takes a block back into the cache; a block given back twice, or never handed out, is an error. */
    synchronized void release(Block block) {
        if (block.size() == 0) return;
        Long size = inUse.remove(block.address());
        if (size == null || size != block.size()) {
            throw new IllegalStateException("release: device block 0x" + Long.toHexString(block.address()) + " of "
                    + block.size() + " bytes is not in use; it was released twice or never allocated here");
        }
        cache.computeIfAbsent(size, s -> new ArrayDeque<>()).push(block.address());
        cachedBytes += size;
    }

    /** Frees every cached block on the device; returns the bytes freed. */
    synchronized long releaseCached() {
        if (cachedBytes == 0) return 0;
        memory.awaitIdle();
        long freed = 0;
        for (Map.Entry<Long, ArrayDeque<Long>> e : cache.entrySet()) {
            for (long address : e.getValue()) {
                memory.free(address);
                freed += e.getKey();
            }
        }
        cache.clear();
        cachedBytes = 0;
        reservedBytes -= freed;
        return freed;
    }

    /** Bytes obtained from the device and not yet given back: in use plus cached. */
    synchronized long reservedBytes() {
        return reservedBytes;
    }

    /** Bytes kept free in the cache. */
    synchronized long cachedBytes() {
        return cachedBytes;
    }

    /** The most {@link #reservedBytes()} has been since creation or {@link #resetPeak()}. */
    synchronized long peakReservedBytes() {
        return peakReservedBytes;
    }

    synchronized void resetPeak() {
        peakReservedBytes = reservedBytes;
    }

    /** Blocks handed out and not released. */
    synchronized int blocksInUse() {
        return inUse.size();
    }

    /** Frees everything, cached and still in use (owners left open lose their memory); returns the bytes freed. */
    synchronized long freeAll() {
        long freed = releaseCached();
        if (!inUse.isEmpty()) memory.awaitIdle();
        for (Map.Entry<Long, Long> e : inUse.entrySet()) {
            memory.free(e.getKey());
            freed += e.getValue();
        }
        inUse.clear();
        reservedBytes = 0;
        return freed;
    }
}
