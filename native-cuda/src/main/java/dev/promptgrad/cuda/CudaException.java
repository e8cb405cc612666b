package dev.promptgrad.cuda;

/**
 * A CUDA runtime, driver, cuBLAS or NVRTC call returned an error. The message names the call (with the kernel
 * or tensor it was for), the library's status name and description, and what to try; {@link #call()} and
 * {@link #status()} give them to code. It is not used for argument errors, which stay IllegalArgumentException.
 */
public class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int status;

    public CudaException(String message, String call, int status) {
        super(message);
        this.call = call;
        this.status = status;
    }

    /** The failing call as the message names it, e.g. {@code "cudaMalloc(4096 bytes for scope 'x')"}. */
    public String call() {
        return call;
    }

    /** The library's numeric status code. */
    public int status() {
        return status;
    }
}
