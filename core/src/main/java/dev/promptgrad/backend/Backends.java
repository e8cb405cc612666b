package dev.promptgrad.backend;

import dev.promptgrad.backend.cpu.CpuBackend;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Opens the backend for a device name: {@code cpu}, {@code cuda}, or {@code auto} (CUDA when a GPU is usable,
 * otherwise the CPU plus one line saying why not). The CPU backend is core's own. The CUDA backend lives in
 * {@code promptgrad-native-cuda}, which core does not depend on: it is found through {@link BackendProvider} and
 * {@link ServiceLoader}, and this class is the only place where core looks for it. It opens backends; the caller
 * owns and closes them.
 */
public final class Backends {

    /** The reason given when no provider for {@code cuda} is on the class path. */
    static final String NO_CUDA_MODULE = "the CUDA backend is not on the class path; add the"
            + " dev.promptgrad:promptgrad-native-cuda jar and its org.bytedeco:cuda jars";

    private Backends() {
    }

    /** The devices a user can name, e.g. with the CLI's {@code --device}. */
    public enum Device {
        CPU, CUDA, AUTO;

        /** {@code "cpu"}, {@code "cuda"} or {@code "auto"}, in any case; anything else is refused with the choices. */
        public static Device parse(String name) {
            if (name != null) {
                for (Device d : values()) {
                    if (d.label().equals(name.trim().toLowerCase(Locale.ROOT))) return d;
                }
            }
            throw new IllegalArgumentException("unknown device '" + name + "': use cpu, cuda or auto");
        }

        /** The lower-case name users type. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Settings every backend accepts. {@code tf32}: matrix products may use TF32 tensor cores (CUDA only). */
    public record Options(boolean tf32) {
        /** Plain float32 everywhere. */
        public static final Options DEFAULTS = new Options(false);
    }

    /**
     * The opened backend and, when it is not exactly what was asked for, one line saying so (auto fell back
     * to the CPU, or TF32 does not apply); null otherwise.
     */
    public record Selection(Backend backend, String note) {
    }

    /** Opens {@code device} with the providers on the class path. */
    public static Selection open(Device device, Options options) {
        return open(device, options, installedProviders());
    }

    /**
     * Opens {@code device} using {@code providers} for every device that is not the CPU. {@code cuda} throws
     * {@link BackendUnavailableException} with the reason when CUDA is not usable; {@code auto} falls back.
     */
    public static Selection open(Device device, Options options, List<BackendProvider> providers) {
        if (device == null || options == null) throw new IllegalArgumentException("device and options are required");
        if (device == Device.CPU) return cpu(options, null);
        BackendProvider cuda = find(providers, Device.CUDA);
        String reason = cuda == null ? NO_CUDA_MODULE : cuda.unavailableReason();
        if (reason == null) return new Selection(cuda.open(options), null);
        if (device == Device.CUDA) throw new BackendUnavailableException("device cuda is not usable: " + reason);
        return cpu(options, "cuda is not usable (" + reason + "); using cpu");
    }

    /** Why CUDA cannot be used here (one line), or null when it can. */
    public static String cudaUnavailableReason() {
        BackendProvider cuda = find(installedProviders(), Device.CUDA);
        return cuda == null ? NO_CUDA_MODULE : cuda.unavailableReason();
    }

    private static Selection cpu(Options options, String note) {
        String tf32 = options.tf32() ? "tf32 does not apply to the cpu backend, which multiplies in float32" : null;
        String combined = note == null ? tf32 : tf32 == null ? note : note + "; " + tf32;
        return new Selection(new CpuBackend(), combined);
    }

    private static BackendProvider find(List<BackendProvider> providers, Device device) {
        for (BackendProvider p : providers) {
            if (device.label().equals(p.device())) return p;
        }
        return null;
    }

    /**
     * The providers listed in META-INF/services. A provider that fails to load is reported as one that cannot
     * open, with ServiceLoader's message as the reason, never as a stack trace; the search stops there.
     */
    private static List<BackendProvider> installedProviders() {
        List<BackendProvider> found = new ArrayList<>();
        Iterator<BackendProvider> it = ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).iterator();
        while (true) {
            try {
                if (!it.hasNext()) break;
                found.add(it.next());
            } catch (ServiceConfigurationError e) {
                found.add(new Broken(e.getMessage()));
                break;
            }
        }
        return found;
    }

    /** Stands in for a listed provider that could not be instantiated. */
    private record Broken(String error) implements BackendProvider {
        @Override
        public String device() {
            return Device.CUDA.label();
        }

        @Override
        public String unavailableReason() {
            return "its backend provider failed to load: " + error;
        }

        @Override
        public Backend open(Options options) {
            throw new BackendUnavailableException("device cuda is not usable: " + unavailableReason());
        }
    }
}
