package dev.promptgrad.tokenizer;

/**
 * A tokenizer file that cannot be read as what it claims to be: truncated, inconsistent, or using a component
 * promptgrad does not implement. The message names the file and the place (byte offset, JSON key, merge index)
 * and says what was expected. Not used for bad arguments to an already loaded tokenizer.
 */
public final class TokenizerFormatException extends RuntimeException {

    public TokenizerFormatException(String message) {
        super(message);
    }

    public TokenizerFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
