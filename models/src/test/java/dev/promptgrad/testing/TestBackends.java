package dev.promptgrad.testing;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Backends;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.cpu.CpuBackend;

import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The backends the model tests run on, by name, for {@code @MethodSource}: the pure-Java reference (the oracle), the
 * CPU backend (OpenBLAS) with two threads, and CUDA where a GPU is usable. In Maven's emulated-cuda execution
 * (system property {@code promptgrad.cuda.emulator}) only CUDA, on native-cuda's CPU emulator of the CUDA libraries:
 * the real models through the real CudaBackend and kernels. Each test opens and closes its own instance. Test code only.
 */
public final class TestBackends {

    private TestBackends() {
    }

    /** A named way to make a fresh backend. */
    public record Named(String name, Supplier<Backend> factory) {
        public Backend open() {
            return factory.get();
        }

        @Override
        public String toString() {
            return name;
        }
    }

    public static Stream<Named> all() {
        Named cuda = new Named("cuda", () -> Backends.open(Backends.Device.CUDA, Backends.Options.DEFAULTS).backend());
        if (System.getProperty("promptgrad.cuda.emulator") != null) return Stream.of(cuda);
        Stream<Named> host = Stream.of(new Named("reference", ReferenceBackend::new),
                new Named("cpu", () -> new CpuBackend(new CpuBackend.Options(2, 1))));
        return Backends.cudaUnavailableReason() == null ? Stream.concat(host, Stream.of(cuda)) : host;
    }
}
