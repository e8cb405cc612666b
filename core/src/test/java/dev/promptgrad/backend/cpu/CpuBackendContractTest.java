package dev.promptgrad.backend.cpu;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.BackendContract;
import org.junit.jupiter.api.Nested;

/**
 * Runs the backend contract suite on the CPU backend with two Java and two OpenBLAS threads, so that row loops
 * and batched GEMMs really split; nested classes run it again with the default split (two Java threads, one
 * OpenBLAS thread: the Java pool splits GEMMs too) and single-threaded. CPU-only details (options,
 * native loading) are tested in {@link CpuBackendTest}.
 */
class CpuBackendContractTest extends BackendContract {

    @Override
    protected Backend backend() {
        return new CpuBackend(new CpuBackend.Options(2, 2));
    }

    @Nested
    class JavaThreadsSplitGemms extends BackendContract {
        @Override
        protected Backend backend() {
            return new CpuBackend(CpuBackend.Options.withThreads(2));
        }
    }

    @Nested
    class SingleThreaded extends BackendContract {
        @Override
        protected Backend backend() {
            return new CpuBackend(new CpuBackend.Options(1, 1));
        }
    }
}
