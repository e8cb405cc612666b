package dev.promptgrad.backend;

import dev.promptgrad.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device names, and how cpu, cuda and auto choose between core's CPU backend and a provider. */
class BackendsTest {

    /** A provider whose availability the test decides; it hands out a reference backend as "cuda". */
    private record FakeCuda(String reason, Backend backend) implements BackendProvider {
        @Override
        public String device() {
            return "cuda";
        }

        @Override
        public String unavailableReason() {
            return reason;
        }

        @Override
        public Backend open(Backends.Options options) {
            return backend;
        }
    }

    @Test
    void deviceNamesParseInAnyCaseAndUnknownOnesListTheChoices() {
        assertEquals(Backends.Device.CPU, Backends.Device.parse("cpu"));
        assertEquals(Backends.Device.CUDA, Backends.Device.parse(" CUDA "));
        assertEquals(Backends.Device.AUTO, Backends.Device.parse("Auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.Device.parse("gpu"));
        assertEquals("unknown device 'gpu': use cpu, cuda or auto", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backends.Device.parse(null));
        assertEquals("auto", Backends.Device.AUTO.label());
    }

    @Test
    void cpuIsCoresOwnAndSaysWhenTf32DoesNotApply() {
        Backends.Selection plain = Backends.open(Backends.Device.CPU, Backends.Options.DEFAULTS, List.of());
        try (Backend b = plain.backend()) {
            assertInstanceOf(CpuBackend.class, b);
            assertNull(plain.note());
        }
        Backends.Selection tf32 = Backends.open(Backends.Device.CPU, new Backends.Options(true), List.of());
        try (Backend b = tf32.backend()) {
            assertEquals("tf32 does not apply to the cpu backend, which multiplies in float32", tf32.note());
        }
    }

    @Test
    void autoTakesAUsableProviderAndCudaDemandsOne() {
        try (ReferenceBackend gpu = new ReferenceBackend()) {
            List<BackendProvider> usable = List.of(new FakeCuda(null, gpu));
            Backends.Selection auto = Backends.open(Backends.Device.AUTO, Backends.Options.DEFAULTS, usable);
            assertSame(gpu, auto.backend());
            assertNull(auto.note());
            assertSame(gpu, Backends.open(Backends.Device.CUDA, Backends.Options.DEFAULTS, usable).backend());
        }
    }

    @Test
    void autoFallsBackToCpuWithTheProvidersOneLineReason() {
        List<BackendProvider> noDriver = List.of(new FakeCuda("no NVIDIA driver (libcuda.so.1 not found)", null));
        Backends.Selection auto = Backends.open(Backends.Device.AUTO, new Backends.Options(true), noDriver);
        try (Backend b = auto.backend()) {
            assertInstanceOf(CpuBackend.class, b);
            assertEquals("cuda is not usable (no NVIDIA driver (libcuda.so.1 not found)); using cpu; tf32 does not"
                    + " apply to the cpu backend, which multiplies in float32", auto.note());
        }
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> Backends.open(Backends.Device.CUDA, Backends.Options.DEFAULTS, noDriver));
        assertEquals("device cuda is not usable: no NVIDIA driver (libcuda.so.1 not found)", e.getMessage());
    }

    @Test
    void withoutTheCudaModuleAutoSaysWhatToAdd() {
        // core's own class path lists no provider: the CUDA module is not there
        assertEquals(Backends.NO_CUDA_MODULE, Backends.cudaUnavailableReason());
        Backends.Selection auto = Backends.open(Backends.Device.AUTO, Backends.Options.DEFAULTS);
        try (Backend b = auto.backend()) {
            assertInstanceOf(CpuBackend.class, b);
            assertTrue(auto.note().startsWith("cuda is not usable (the CUDA backend is not on the class path"), auto.note());
            assertTrue(!auto.note().contains("\n"), "one line: " + auto.note());
        }
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> Backends.open(Backends.Device.CUDA, Backends.Options.DEFAULTS));
        assertTrue(e.getMessage().contains("promptgrad-native-cuda"), e.getMessage());
    }
}
