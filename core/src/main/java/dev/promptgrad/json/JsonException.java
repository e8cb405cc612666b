package dev.promptgrad.json;

/**
 * A JSON document that could not be read, or a value in it that a reader could not use. The message names
 * the source (usually a file name), the line and column when the problem has a place in the text, and what
 * was expected there. It is not thrown for writing; a value that has no JSON form is an
 * {@link IllegalArgumentException}.
 */
public final class JsonException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final int line;
    private final int column;
    private final String detail;

    /** A problem at a place in the text; line and column count from 1, the column in code points. */
    public JsonException(String source, int line, int column, String detail) {
        super(source + ":" + line + ":" + column + ": " + detail);
        this.source = source;
        this.line = line;
        this.column = column;
        this.detail = detail;
    }

    /** A problem with a parsed value, such as a missing key or a string where a number belongs. */
    public JsonException(String source, String detail) {
        super(source + ": " + detail);
        this.source = source;
        this.line = 0;
        this.column = 0;
        this.detail = detail;
    }

    /** The name given for the text when it was parsed, usually its file. */
    public String source() {
        return source;
    }

    /** The 1-based line of the problem, or 0 when it has no place in the text. */
    public int line() {
        return line;
    }

    /** The 1-based column (in code points) of the problem, or 0 when it has no place in the text. */
    public int column() {
        return column;
    }

    /** The message without the source and position. */
    public String detail() {
        return detail;
    }
}
