package dev.promptgrad.cuda;

/**
 * Raw device memory as {@link CachingAllocator} needs it: allocate, free, and wait until the device no longer
 * uses memory about to be freed. The backend's implementation calls cudaMalloc and cudaFree; tests use a fake.
 */
interface DeviceMemory {

    /** The address of {@code bytes} (> 0) new bytes, or 0 when the device has no room. Other failures throw. */
    long allocate(long bytes, String label);

    /** Returns memory that {@link #allocate} gave. */
    void free(long address);

    /** Waits until queued work is done, so that freed memory is not still in use; called before frees. */
    void awaitIdle();

    /** A one-line description of the device's free and total memory, for out-of-memory messages. */
    String describe();
}
