package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caching allocator's size classes, reuse, out-of-memory retry and bookkeeping, over a fake device. */
class CachingAllocatorTest {

    /** A device with a byte budget that records every call. */
    private static final class FakeDevice implements DeviceMemory {
        final long capacity;
        final Map<Long, Long> allocated = new HashMap<>();   // address → bytes
        final List<String> calls = new ArrayList<>();
        long nextAddress = 0x1000;

        FakeDevice(long capacity) {
            this.capacity = capacity;
        }

        long used() {
            return allocated.values().stream().mapToLong(Long::longValue).sum();
        }

        @Override
        public long allocate(long bytes, String label) {
            calls.add("allocate " + bytes);
            if (used() + bytes > capacity) return 0;
            long address = nextAddress;
            nextAddress += bytes + 0x1000;
            allocated.put(address, bytes);
            return address;
        }

        @Override
        public void free(long address) {
            calls.add("free " + allocated.get(address));
            assertTrue(allocated.remove(address) != null, "freed an address never allocated: " + address);
        }

        @Override
        public void awaitIdle() {
            calls.add("awaitIdle");
        }

        @Override
        public String describe() {
            return "fake device with " + (capacity - used()) + " bytes free";
        }
    }

    @Test
    void sizeClassesRoundTo512BytesUpTo1MiBAnd2MiBAbove() {
        assertEquals(0, CachingAllocator.sizeClass(0));
        assertEquals(512, CachingAllocator.sizeClass(1));
        assertEquals(512, CachingAllocator.sizeClass(512));
        assertEquals(1024, CachingAllocator.sizeClass(513));
        assertEquals(1 << 20, CachingAllocator.sizeClass((1 << 20) - 1));
        assertEquals(1 << 20, CachingAllocator.sizeClass(1 << 20));
        assertEquals(2 << 20, CachingAllocator.sizeClass((1 << 20) + 1));
        assertEquals(4 << 20, CachingAllocator.sizeClass((2 << 20) + 1));
        assertThrows(IllegalArgumentException.class, () -> CachingAllocator.sizeClass(-1));
    }

    @Test
    void aReleasedBlockIsReusedForTheSameClassOnly() {
        FakeDevice device = new FakeDevice(1 << 30);
        CachingAllocator allocator = new CachingAllocator(device);
        CachingAllocator.Block first = allocator.allocate(1000, "a");
        assertEquals(1024, first.size());
        allocator.release(first);
        assertEquals(1024, allocator.cachedBytes());
        CachingAllocator.Block again = allocator.allocate(900, "b");   // same class: the cached block
        assertEquals(first, again);
        assertEquals(0, allocator.cachedBytes());
        CachingAllocator.Block other = allocator.allocate(2000, "c");  // another class: new device memory
        assertNotEquals(first.address(), other.address());
        assertEquals(List.of("allocate 1024", "allocate 2048"), device.calls);
        assertEquals(1024 + 2048, allocator.reservedBytes());
        assertEquals(2, allocator.blocksInUse());
    }

    @Test
    void emptyRequestsTouchNoDeviceMemory() {
        FakeDevice device = new FakeDevice(1 << 20);
        CachingAllocator allocator = new CachingAllocator(device);
        CachingAllocator.Block empty = allocator.allocate(0, "empty");
        assertEquals(new CachingAllocator.Block(0, 0), empty);
        allocator.release(empty);
        assertEquals(List.of(), device.calls);
        assertEquals(0, allocator.reservedBytes());
    }

    @Test
    void releasingTwiceOrAForeignBlockIsRefused() {
        CachingAllocator allocator = new CachingAllocator(new FakeDevice(1 << 20));
        CachingAllocator.Block block = allocator.allocate(100, "twice");
        allocator.release(block);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> allocator.release(block));
        assertTrue(e.getMessage().contains("released twice or never allocated here"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> allocator.release(new CachingAllocator.Block(0x42, 512)));
    }

    @Test
    void whenTheDeviceIsFullTheCacheIsFreedAfterWaitingAndTheRequestRetried() {
        FakeDevice device = new FakeDevice(4 << 20);
        CachingAllocator allocator = new CachingAllocator(device);
        allocator.release(allocator.allocate(2 << 20, "cached"));   // 2 MiB cached, 2 MiB left on the device
        CachingAllocator.Block big = allocator.allocate(3 << 20, "needs the cache");   // class 4 MiB
        assertEquals(4 << 20, big.size());
        assertEquals(List.of("allocate 2097152", "allocate 4194304", "awaitIdle", "free 2097152", "allocate 4194304"),
                device.calls);
        assertEquals(0, allocator.cachedBytes());
        assertEquals(4 << 20, allocator.reservedBytes());
        OutOfMemoryError e = assertThrows(OutOfMemoryError.class, () -> allocator.allocate(1 << 20, "one too many"));
        assertTrue(e.getMessage().contains("no room for 1048576 bytes of one too many"), e.getMessage());
        assertTrue(e.getMessage().contains("fake device with 0 bytes free"), e.getMessage());
    }

    @Test
    void peaksFollowReservedBytesAndResetToTheCurrentValue() {
        CachingAllocator allocator = new CachingAllocator(new FakeDevice(1 << 30));
        CachingAllocator.Block a = allocator.allocate(4 << 20, "a");
        CachingAllocator.Block b = allocator.allocate(6 << 20, "b");
        allocator.release(b);
        allocator.releaseCached();
        assertEquals(4 << 20, allocator.reservedBytes());
        assertEquals(10 << 20, allocator.peakReservedBytes());
        allocator.resetPeak();
        assertEquals(4 << 20, allocator.peakReservedBytes());
        allocator.release(a);
        assertEquals(4 << 20, allocator.reservedBytes(), "a cached block stays reserved");
    }

    @Test
    void freeAllReturnsCachedAndInUseBlocks() {
        FakeDevice device = new FakeDevice(1 << 30);
        CachingAllocator allocator = new CachingAllocator(device);
        allocator.allocate(1 << 10, "left open");
        allocator.release(allocator.allocate(8 << 20, "cached"));
        assertEquals((8 << 20) + (1 << 10), allocator.freeAll());
        assertEquals(0, device.used());
        assertEquals(0, allocator.reservedBytes());
        assertEquals(0, allocator.blocksInUse());
    }
}
