package dev.promptgrad.safetensors;

/**
 * A safetensors file, shard index or write that failed: malformed or truncated input, a tensor that is missing
 * or has the wrong type, or an I/O error. The message names the file and, where there is one, the tensor and
 * what is wrong with it. It is unchecked, like every library error in promptgrad.
 */
public final class SafetensorsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
