package dev.promptgrad.encoder;

/**
 * A BERT checkpoint that cannot be loaded as one: a config.json with values promptgrad does not implement, a
 * missing or misshapen tensor, sentence-transformers modules it cannot reproduce, or an ONNX graph whose weights
 * cannot be matched to BERT's. The message names the file, the key or tensor, and what was expected.
 */
public final class EncoderFormatException extends RuntimeException {

    public EncoderFormatException(String message) {
        super(message);
    }

    public EncoderFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
