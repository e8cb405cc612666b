package dev.promptgrad.testing;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.cpu.CpuBackend;

import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The backends the model tests run on, by name, for {@code @MethodSource}: the pure-Java reference (the
 * oracle) and the CPU backend (OpenBLAS) with two threads. Each test opens and closes its own instance.
 * Test code only.
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
        return Stream.of(new Named("reference", ReferenceBackend::new),
                new Named("cpu", () -> new CpuBackend(new CpuBackend.Options(2, 1))));
    }
}
