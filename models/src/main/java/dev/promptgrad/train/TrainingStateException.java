package dev.promptgrad.train;

/**
 * A training folder that cannot be resumed: no training state, a file that is not one, a saved prompt that is
 * not finite, optimizer moments that do not fit, or settings or data that differ from the checkpoint's. The
 * message names the file and says what to do. It extends IllegalArgumentException because the cause is the
 * folder or flags the caller passed.
 */
public final class TrainingStateException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public TrainingStateException(String message) {
        super(message);
    }

    public TrainingStateException(String message, Throwable cause) {
        super(message, cause);
    }
}
