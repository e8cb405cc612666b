package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which architecture NVRTC compiles for, given a device's compute capability and NVRTC's list, and the options. */
class CompileTargetTest {

    /** nvrtcGetSupportedArchs of CUDA 13 (unsorted on purpose). */
    private static final int[] CUDA_13 = {120, 75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 121};

    @Test
    void aKnownArchitectureGetsItsOwnCubin() {
        CompileTarget h100 = CompileTarget.forDevice(9, 0, CUDA_13);
        assertEquals(new CompileTarget(90, true), h100);
        assertEquals("sm_90", h100.name());
        assertEquals(List.of("--gpu-architecture=sm_90", "--std=c++17"), h100.options());
        assertEquals("sm_86", CompileTarget.forDevice(8, 6, CUDA_13).name());
        assertEquals("sm_75", CompileTarget.forDevice(7, 5, CUDA_13).name());
    }

    @Test
    void aNewerDeviceGetsPtxOfTheNewestKnownArchitecture() {
        CompileTarget future = CompileTarget.forDevice(13, 0, CUDA_13);
        assertEquals(new CompileTarget(121, false), future);
        assertEquals(List.of("--gpu-architecture=compute_121", "--std=c++17"), future.options());
    }

    @Test
    void anOlderDeviceIsRefusedWithTheSupportedRange() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CompileTarget.forDevice(7, 0, CUDA_13));
        assertTrue(e.getMessage().contains("sm_75 to sm_121, not for this GPU's sm_70"), e.getMessage());
    }

    @Test
    void nonsenseInputsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> CompileTarget.forDevice(0, 0, CUDA_13));
        assertThrows(IllegalArgumentException.class, () -> CompileTarget.forDevice(9, 10, CUDA_13));
        assertThrows(IllegalArgumentException.class, () -> CompileTarget.forDevice(9, 0, new int[0]));
    }
}
