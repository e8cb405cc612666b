package dev.promptgrad.onnx;

/**
 * An ONNX file that cannot be read as the model it claims to be: malformed protobuf (a truncated varint, a length
 * past the end), a tensor whose dims do not match its data, or a graph without the nodes a reader looks for. The
 * message names the source, the byte offset or the tensor/node, and what was expected.
 */
public final class OnnxFormatException extends RuntimeException {

    public OnnxFormatException(String message) {
        super(message);
    }
}
