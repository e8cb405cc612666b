package dev.promptgrad.cuda;

import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;

/**
 * The CUDA backend's storage: float32 elements, or raw bfloat16 words of a frozen BF16 weight, in one block of device
 * memory from its {@link CachingAllocator}. Java never reads it directly; kernels get its address. Only
 * {@link CudaBackend} creates and releases it.
 */
final class CudaBuffer extends Buffer {
    private final CudaBackend owner;
    private final CachingAllocator.Block block;

    CudaBuffer(CudaBackend owner, DType dtype, CachingAllocator.Block block, long length, String label) {
        super(dtype, length, label);
        this.owner = owner;
        this.block = block;
    }

    CudaBackend owner() {
        return owner;
    }

    CachingAllocator.Block block() {
        return block;
    }

    /** The device address of element {@code offset}. */
    long addressOf(long offset) {
        return block.address() + offset * dtype().bytes;
    }

    /** Marks the buffer released; false if it was released before. The backend returns the block. */
    synchronized boolean free() {
        if (isReleased()) return false;
        markReleased();
        return true;
    }
}
