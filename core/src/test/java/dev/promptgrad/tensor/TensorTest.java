package dev.promptgrad.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Views over a buffer: shapes, reshapes, slices and their checks. Needs no backend. */
class TensorTest {

    private static Buffer buffer(long length) {
        return new Buffer(DType.F32, length, "test buffer") {
        };
    }

    @Test
    void viewInfersOneDimensionAndKeepsOffset() {
        Tensor t = new Tensor(buffer(48), 24, 2, 3, 4);
        Tensor v = t.view(-1, 4);
        assertArrayEquals(new int[]{6, 4}, v.shape());
        assertEquals(24, v.offset());
        assertEquals(6, v.rows());
        assertThrows(IllegalArgumentException.class, () -> t.view(5, -1));
        assertThrows(IllegalArgumentException.class, () -> t.view(-1, -1));
        assertThrows(IllegalArgumentException.class, () -> t.view(25));
    }

    @Test
    void sliceAndSelectMoveAlongTheFirstDimension() {
        Tensor t = new Tensor(buffer(60), 0, 5, 3, 4);
        Tensor s = t.slice(1, 3);
        assertArrayEquals(new int[]{2, 3, 4}, s.shape());
        assertEquals(12, s.offset());
        Tensor r = t.select(4);
        assertArrayEquals(new int[]{3, 4}, r.shape());
        assertEquals(48, r.offset());
        assertThrows(IndexOutOfBoundsException.class, () -> t.slice(3, 6));
        assertThrows(IndexOutOfBoundsException.class, () -> t.select(5));
    }

    @Test
    void aViewMustFitItsBuffer() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Tensor(buffer(10), 4, 2, 4));
        assertTrue(e.getMessage().contains("does not fit in 10 elements of test buffer"), e.getMessage());
    }

    @Test
    void sizeOfRejectsOverflowAndNegativeDimensions() {
        assertThrows(ArithmeticException.class, () -> Tensor.sizeOf(1 << 30, 1 << 30, 1 << 30));
        assertThrows(IllegalArgumentException.class, () -> Tensor.sizeOf(3, -1));
        assertEquals(1, Tensor.sizeOf());
    }

    @Test
    void sameStorageComparesBufferOffsetAndSize() {
        Buffer b = buffer(16);
        Tensor a = new Tensor(b, 0, 4, 4);
        assertTrue(a.sameStorage(a.view(16)));
        assertFalse(a.sameStorage(a.slice(0, 2)));
        assertTrue(a.sameShape(new Tensor(buffer(16), 0, 4, 4)));
    }
}
