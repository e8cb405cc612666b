package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * That Maven's emulated-cuda execution really runs on the CUDA emulator (src/test/emulator): the probe must see the
 * emulated device, not skip and not find a real GPU, so "the GPU tests passed here" cannot mean "they were skipped".
 * Outside that execution it aborts; where the emulator was not built (no g++) it aborts with that reason.
 */
class EmulatedCudaTest {

    @Test
    void theEmulatedExecutionRunsOnTheEmulator() {
        if (RequiresCuda.emulatorDirectory() == null) abort("runs only in the emulated-cuda execution");
        String skipped = RequiresCuda.emulatorSkipped();
        if (skipped != null) abort("the CUDA emulator was not built: " + skipped);
        CudaAvailability.Report report = CudaAvailability.probe();
        assertTrue(report.usable(), "the emulated device should be usable: " + report.reason());
        assertTrue(report.deviceName().contains("emulator"), "the emulated-cuda execution loaded a real CUDA device ("
                + report.describe() + "); LD_LIBRARY_PATH and the JavaCPP link path should select "
                + RequiresCuda.emulatorDirectory());
        try (CudaBackend backend = new CudaBackend()) {
            assertTrue(backend.describeDevice().contains("emulator"), backend.describeDevice());
        }
    }
}
