package dev.promptgrad.backend;

/**
 * The device asked for cannot run here: its driver, its libraries or the device itself are missing. The
 * message is one line that says which and what to do; it carries no native stack trace.
 */
public final class BackendUnavailableException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public BackendUnavailableException(String message) {
        super(message);
    }
}
