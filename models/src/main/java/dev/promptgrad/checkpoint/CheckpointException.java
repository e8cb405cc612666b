package dev.promptgrad.checkpoint;

/**
 * A checkpoint that cannot be loaded as it is: a missing or misshapen tensor, an unsupported model type, a
 * truncated file. The message names the file, the tensor or key, and what was expected and found.
 */
public final class CheckpointException extends RuntimeException {

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
