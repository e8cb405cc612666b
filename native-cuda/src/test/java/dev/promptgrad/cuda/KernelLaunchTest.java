package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Launch arguments are checked against each kernel's declared parameters before anything reaches the driver. */
class KernelLaunchTest {

    @Test
    void argumentsOfTheDeclaredTypesPass() {
        assertDoesNotThrow(() -> KernelLaunch.checkArguments(Kernel.FILL, new Object[]{0x1000L, 7L, 0.5f}));
        assertDoesNotThrow(() -> KernelLaunch.checkArguments(Kernel.LAYER_NORM,
                new Object[]{1L, 2L, 0L, 3L, 0L, 0L, 768, 1e-5}));
    }

    @Test
    void aWrongCountOrTypeNamesTheKernelAndPosition() {
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                () -> KernelLaunch.checkArguments(Kernel.FILL, new Object[]{0x1000L, 7L}));
        assertEquals("fill_f32 takes 3 arguments [PTR, I64, F32], not 2", count.getMessage());
        IllegalArgumentException type = assertThrows(IllegalArgumentException.class,
                () -> KernelLaunch.checkArguments(Kernel.FILL, new Object[]{0x1000L, 7, 0.5f}));
        assertEquals("fill_f32: argument 1 must be a Long for a I64 parameter, not Integer", type.getMessage());
        IllegalArgumentException precision = assertThrows(IllegalArgumentException.class,
                () -> KernelLaunch.checkArguments(Kernel.SCALE, new Object[]{1L, 2L, 3L, 0.5f}));
        assertTrue(precision.getMessage().contains("argument 3 must be a Double"), precision.getMessage());
        assertThrows(IllegalArgumentException.class, () -> KernelLaunch.checkArguments(Kernel.FILL, new Object[]{null, 7L, 0.5f}));
    }

    @Test
    void everyKernelFitsTheArgumentBlockAndHasItsOwnSymbol() {
        Set<String> symbols = new HashSet<>();
        for (Kernel kernel : Kernel.values()) {
            assertTrue(kernel.params.size() <= KernelLaunch.MAX_PARAMS, kernel + " has too many parameters");
            assertTrue(symbols.add(kernel.symbol), "symbol " + kernel.symbol + " is declared twice");
        }
    }
}
