package dev.promptgrad.backend;

/**
 * A backend that lives in another module and is found at run time with {@link java.util.ServiceLoader}: the
 * CUDA backend of {@code promptgrad-native-cuda}, which core must not depend on. Implementations are listed in
 * {@code META-INF/services/dev.promptgrad.backend.BackendProvider}. This is the plug point only; choosing between
 * backends is {@link Backends}' job.
 */
public interface BackendProvider {

    /** The device name users type to ask for this backend, e.g. {@code "cuda"}. */
    String device();

    /**
     * Null when {@link #open} can succeed on this machine; otherwise one line saying what is missing (driver,
     * libraries, device) and what to do. It never throws and never prints: probing is part of its contract.
     */
    String unavailableReason();

    /** Opens a new backend; call it only when {@link #unavailableReason()} is null. */
    Backend open(Backends.Options options);
}
