package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Backends;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.cpu.CpuBackend;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/**
 * The flags every command takes: where tensors run ({@code --device}, {@code --threads}), {@code --debug} for
 * stack traces, and {@code --help}. A picocli mixin; it opens the backend and holds nothing else.
 */
final class CommonOptions {

    /** The backends the command line can choose, written in lower case on it. */
    enum Device {
        /** OpenBLAS matrix products and multi-threaded Java loops: the fast default. */
        CPU,
        /** Plain Java loops with double accumulators, one thread: slow, the oracle the others are tested against. */
        REFERENCE,
        /** An NVIDIA GPU through the native-cuda module; refused with the reason when none is usable. */
        CUDA,
        /** CUDA when a GPU is usable, else the CPU, saying why in one line. */
        AUTO
    }

    /** The --device values as the help shows them. */
    static final class DeviceNames extends ArrayList<String> {
        private static final long serialVersionUID = 1L;

        DeviceNames() {
            super(List.of("cpu", "cuda", "auto", "reference"));
        }
    }

    @Option(names = "--device", paramLabel = "DEVICE", defaultValue = "cpu", completionCandidates = DeviceNames.class,
            description = "Where tensors run: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Device device;

    @Option(names = "--threads", paramLabel = "N",
            description = "Threads for the cpu device (default: one per available processor).")
    Integer threads;

    @Option(names = "--tf32", description = "Let cuda matrix products use TF32 tensor cores (faster, ~10-bit mantissa).")
    boolean tf32;

    @Option(names = "--debug", description = "On failure, print the stack trace after the error line.")
    boolean debug;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    /** A new backend of the chosen kind; the caller closes it. A fallback or ignored option is noted on {@code err}. */
    Backend openBackend(PrintWriter err) {
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1, got " + threads);
        }
        return switch (device) {
            case CPU -> {
                int count = threads != null ? threads : Runtime.getRuntime().availableProcessors();
                yield new CpuBackend(CpuBackend.Options.withThreads(count));
            }
            case REFERENCE -> new ReferenceBackend();
            case CUDA, AUTO -> {
                Backends.Selection selection = Backends.open(device == Device.CUDA ? Backends.Device.CUDA
                        : Backends.Device.AUTO, new Backends.Options(tf32));
                if (selection.note() != null) {
                    err.println("note: " + selection.note());
                    err.flush();
                }
                yield selection.backend();
            }
        };
    }
}
