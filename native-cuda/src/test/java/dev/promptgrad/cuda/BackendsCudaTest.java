package dev.promptgrad.cuda;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.BackendUnavailableException;
import dev.promptgrad.backend.Backends;
import dev.promptgrad.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * core's Backends with this module on the class path: ServiceLoader finds {@link CudaBackendProvider}, and auto
 * and cuda follow the real probe (CUDA on a GPU machine; the CPU, or a refusal, with the probe's reason elsewhere).
 */
class BackendsCudaTest {

    @Test
    void theProviderIsFoundAndReportsTheProbesReason() {
        assertEquals(CudaAvailability.unavailableReason(), Backends.cudaUnavailableReason());
    }

    @Test
    void autoUsesCudaWhenUsableAndOtherwiseTheCpuWithTheReason() {
        String reason = CudaAvailability.unavailableReason();
        Backends.Selection auto = Backends.open(Backends.Device.AUTO, Backends.Options.DEFAULTS);
        try (Backend backend = auto.backend()) {
            if (reason == null) {
                assertInstanceOf(CudaBackend.class, backend);
                assertNull(auto.note());
            } else {
                assertInstanceOf(CpuBackend.class, backend);
                assertEquals("cuda is not usable (" + reason + "); using cpu", auto.note());
            }
        }
    }

    @Test
    void cudaOpensWithTf32OrRefusesWithTheReason() {
        String reason = CudaAvailability.unavailableReason();
        if (reason == null) {
            Backends.Selection cuda = Backends.open(Backends.Device.CUDA, new Backends.Options(true));
            try (Backend backend = cuda.backend()) {
                assertTrue(((CudaBackend) backend).options().tf32(), "tf32 reaches the CUDA backend");
            }
        } else {
            BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                    () -> Backends.open(Backends.Device.CUDA, Backends.Options.DEFAULTS));
            assertEquals("device cuda is not usable: " + reason, e.getMessage());
            BackendUnavailableException direct = assertThrows(BackendUnavailableException.class, CudaBackend::new);
            assertEquals(e.getMessage(), direct.getMessage());
        }
    }
}
