package dev.promptgrad.cuda;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.BackendContract;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs core's backend contract suite on the CUDA backend: every kernel against the reference backend on awkward
 * sizes, argument errors with the reference's messages, and live bytes back to zero. Skipped, with the reason,
 * where no GPU is usable. The nested class runs it again with a wait and a status check after every kernel.
 */
@ExtendWith(RequiresCuda.class)
class CudaBackendContractTest extends BackendContract {

    @Override
    protected Backend backend() {
        return new CudaBackend();
    }

    @Nested
    class CheckingEveryKernel extends BackendContract {
        @Override
        protected Backend backend() {
            return new CudaBackend(new CudaBackend.Options(0, false, true));
        }
    }
}
