package dev.promptgrad.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Turns every status code of the CUDA runtime, the driver API, cuBLAS and NVRTC into a {@link CudaException} that
 * names the call, so no failure is ignored or reported as a bare number. The backend wraps each native call in
 * one of these checks. It formats messages only; it never retries or recovers.
 */
final class CudaStatus {

    private CudaStatus() {
    }

    /** A CUDA runtime call ({@code cudaError_t}). */
    static void check(int status, String call) {
        if (status == cudart.cudaSuccess) return;
        cudart.cudaGetLastError();   // clears a non-sticky error so the next call does not report it again
        throw new CudaException(message("CUDA runtime", call, status, string(cudart.cudaGetErrorName(status)),
                string(cudart.cudaGetErrorString(status))), call, status);
    }

    /** A CUDA driver API call ({@code CUresult}). */
    static void checkDriver(int status, String call) {
        if (status == cudart.CUDA_SUCCESS) return;
        PointerPointer<BytePointer> name = new PointerPointer<>(1);
        PointerPointer<BytePointer> description = new PointerPointer<>(1);
        try {
            boolean named = cudart.cuGetErrorName(status, name) == cudart.CUDA_SUCCESS;
            boolean described = cudart.cuGetErrorString(status, description) == cudart.CUDA_SUCCESS;
            throw new CudaException(message("CUDA driver", call, status, named ? name.getString(0) : null,
                    described ? description.getString(0) : null), call, status);
        } finally {
            name.deallocate();
            description.deallocate();
        }
    }

    /** A cuBLAS call ({@code cublasStatus_t}). */
    static void checkCublas(int status, String call) {
        if (status == cublas.CUBLAS_STATUS_SUCCESS) return;
        throw new CudaException(message("cuBLAS", call, status, string(cublas.cublasGetStatusName(status)),
                string(cublas.cublasGetStatusString(status))), call, status);
    }

    /** An NVRTC call ({@code nvrtcResult}) other than a compilation, whose log NvrtcCompiler reports itself. */
    static void checkNvrtc(int status, String call) {
        if (status == nvrtc.NVRTC_SUCCESS) return;
        throw new CudaException(message("NVRTC", call, status, string(nvrtc.nvrtcGetErrorString(status)), null),
                call, status);
    }

    /**
     * The one format of every status message, e.g. {@code "cudaMalloc(4096 bytes for scope 'x') failed: CUDA
     * runtime error 2 cudaErrorMemoryAllocation (out of memory)"}, plus a hint for the errors that have one.
     */
    static String message(String library, String call, int status, String name, String description) {
        StringBuilder m = new StringBuilder(call).append(" failed: ").append(library).append(" error ").append(status);
        if (name != null && !name.isEmpty()) m.append(' ').append(name);
        if (description != null && !description.isEmpty() && !description.equals(name)) {
            m.append(" (").append(description).append(')');
        }
        String hint = hint(name);
        if (hint != null) m.append("; ").append(hint);
        return m.toString();
    }

    private static String hint(String name) {
        if (name == null) return null;
        if (name.contains("IllegalAddress") || name.contains("ILLEGAL_ADDRESS") || name.contains("LaunchFailure")
                || name.contains("LAUNCH_FAILED")) {
            return "an earlier kernel failed; the device context is unusable now. Rerun with the backend option"
                    + " checkEveryKernel to find the kernel";
        }
        if (name.contains("NoBinaryForGpu") || name.contains("NO_BINARY_FOR_GPU")
                || name.contains("UNSUPPORTED_PTX_VERSION")) {
            return "the driver is older than the NVRTC that compiled the kernels; update the NVIDIA driver";
        }
        return null;
    }

    private static String string(BytePointer p) {
        return p == null || p.isNull() ? null : p.getString();
    }
}
