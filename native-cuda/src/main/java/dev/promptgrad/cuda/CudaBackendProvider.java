package dev.promptgrad.cuda;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.BackendProvider;
import dev.promptgrad.backend.Backends;

/**
 * Makes the CUDA backend findable by core's {@link Backends} (listed in META-INF/services). Constructing it loads
 * nothing native; {@link #unavailableReason()} runs {@link CudaAvailability}'s probe, {@link #open} opens device 0.
 */
public final class CudaBackendProvider implements BackendProvider {

    @Override
    public String device() {
        return "cuda";
    }

    @Override
    public String unavailableReason() {
        return CudaAvailability.unavailableReason();
    }

    @Override
    public Backend open(Backends.Options options) {
        return new CudaBackend(new CudaBackend.Options(0, options.tf32(), false));
    }
}
