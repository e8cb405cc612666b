package dev.promptgrad.prompt;

/**
 * A soft-prompt adapter that cannot be used: a missing or malformed file, a kind of adapter promptgrad does not
 * read, a tensor of the wrong shape, non-finite values, or a width that does not match the model. The message
 * names the folder or file and says what was expected.
 */
public final class AdapterFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public AdapterFormatException(String message) {
        super(message);
    }

    public AdapterFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
