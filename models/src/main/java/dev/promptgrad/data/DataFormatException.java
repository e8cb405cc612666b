package dev.promptgrad.data;

/**
 * A training-data file that cannot be used: the message names the file and, when the problem is on one line,
 * that line's number (from 1) and what the line should look like. Not thrown for a file that cannot be read
 * at all (that is an {@link java.io.UncheckedIOException}).
 */
public final class DataFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final int line;

    /** A problem on one line of {@code file}; {@code line} counts from 1. */
    public DataFormatException(String file, int line, String detail) {
        super(file + ":" + line + ": " + detail);
        this.file = file;
        this.line = line;
    }

    /** A problem with the file as a whole, such as having no examples. */
    public DataFormatException(String file, String detail) {
        super(file + ": " + detail);
        this.file = file;
        this.line = 0;
    }

    /** The file as it was named to the reader. */
    public String file() {
        return file;
    }

    /** The 1-based line of the problem, or 0 when it concerns the whole file. */
    public int line() {
        return line;
    }
}
