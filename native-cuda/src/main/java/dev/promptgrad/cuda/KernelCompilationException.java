package dev.promptgrad.cuda;

/**
 * NVRTC refused a kernel source: the message holds the source file, the target architecture, the options and
 * NVRTC's full compiler log; {@link #log()} returns the log alone. The shipped sources are compiled by nvcc in CI
 * (KernelSourcesCompileTest), so this means an NVRTC that differs from it, or an edited resource.
 */
public final class KernelCompilationException extends CudaException {
    private static final long serialVersionUID = 1L;

    private final String log;

    public KernelCompilationException(String message, String call, int status, String log) {
        super(message, call, status);
        this.log = log;
    }

    /** NVRTC's compiler log, as it printed it. */
    public String log() {
        return log;
    }
}
