package dev.promptgrad.testing;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Backends;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.cpu.CpuBackend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.abort;

/**
 * The backends the model tests run on, by name, for {@code @MethodSource}: the pure-Java reference (the oracle), the
 * CPU backend (OpenBLAS) with two threads, and CUDA where a GPU is usable. The system property
 * {@code promptgrad.test.backends} (a comma-separated list of those names) picks others: Maven's emulated-cuda
 * execution and the GPU device check set it to {@code cuda}, where a failure to open CUDA then fails the tests
 * rather than leaving CUDA out. Each test opens and closes its own instance. Test code only.
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
        String chosen = System.getProperty("promptgrad.test.backends");
        if (chosen != null) return Arrays.stream(chosen.split(",")).map(String::strip).map(TestBackends::named);
        Stream<Named> host = Stream.of(named("reference"), named("cpu"));
        return Backends.cudaUnavailableReason() == null ? Stream.concat(host, Stream.of(named("cuda"))) : host;
    }

    private static Named named(String name) {
        return switch (name) {
            case "reference" -> new Named(name, ReferenceBackend::new);
            case "cpu" -> new Named(name, () -> new CpuBackend(new CpuBackend.Options(2, 1)));
            case "cuda" -> new Named(name, TestBackends::openCuda);
            default -> throw new IllegalArgumentException("promptgrad.test.backends: unknown backend '" + name
                    + "'; use reference, cpu or cuda");
        };
    }

    /**
     * The CUDA backend; in the emulated-cuda execution (property {@code promptgrad.cuda.emulator}, the emulator's
     * folder) the test is skipped instead when the emulator could not be built there (its SKIPPED file says why) or
     * was not built at all (this module built alone).
     */
    private static Backend openCuda() {
        String emulator = System.getProperty("promptgrad.cuda.emulator");
        if (emulator != null) {
            Path skipped = Path.of(emulator, "SKIPPED");
            try {
                if (Files.exists(skipped)) abort("the CUDA emulator was not built: " + Files.readString(skipped).strip());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (!Files.exists(Path.of(emulator, "libcuda.so.1"))) {
                abort("the CUDA emulator is not in " + emulator + "; build native-cuda's tests first (mvn -B verify"
                        + " from the root builds it before models)");
            }
        }
        return Backends.open(Backends.Device.CUDA, Backends.Options.DEFAULTS).backend();
    }
}
