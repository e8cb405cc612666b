package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one message format every failing CUDA, cuBLAS or NVRTC status is turned into. */
class CudaStatusTest {

    @Test
    void theMessageNamesTheCallTheLibraryAndTheStatus() {
        assertEquals("cudaMalloc(4096 bytes for scope 'x') failed: CUDA runtime error 2 cudaErrorMemoryAllocation"
                        + " (out of memory)",
                CudaStatus.message("CUDA runtime", "cudaMalloc(4096 bytes for scope 'x')", 2,
                        "cudaErrorMemoryAllocation", "out of memory"));
        assertEquals("cublasCreate_v2 failed: cuBLAS error 1 CUBLAS_STATUS_NOT_INITIALIZED",
                CudaStatus.message("cuBLAS", "cublasCreate_v2", 1, "CUBLAS_STATUS_NOT_INITIALIZED", null));
        assertEquals("nvrtcCreateProgram(x.cu) failed: NVRTC error 3",
                CudaStatus.message("NVRTC", "nvrtcCreateProgram(x.cu)", 3, null, ""));
    }

    @Test
    void faultsAndStaleDriversCarryAHint() {
        String fault = CudaStatus.message("CUDA runtime", "cudaStreamSynchronize(after download)", 700,
                "cudaErrorIllegalAddress", "an illegal memory access was encountered");
        assertTrue(fault.endsWith("; an earlier kernel failed; the device context is unusable now. Rerun with the"
                + " backend option checkEveryKernel to find the kernel"), fault);
        String stale = CudaStatus.message("CUDA driver", "cuModuleLoadData(norm.cu for sm_90)", 222,
                "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain.");
        assertTrue(stale.contains("update the NVIDIA driver"), stale);
    }
}
