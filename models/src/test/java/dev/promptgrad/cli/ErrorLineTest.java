package dev.promptgrad.cli;

import dev.promptgrad.data.DataFormatException;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** How a failure becomes the one line after "error: ": library messages as they are, anything else flagged as a bug. */
class ErrorLineTest {

    @Test
    void libraryMessagesPassThroughOnOneLine() {
        assertEquals("data.jsonl:3: not valid JSON", Main.describe(new DataFormatException("data.jsonl", 3, "not valid JSON")));
        assertEquals("first second", Main.describe(new IllegalArgumentException("first\n  second")));
        assertEquals("cannot read x", Main.describe(new UncheckedIOException("cannot read x", new java.io.IOException("x"))));
    }

    @Test
    void missingFilesAndMemoryGetAHint() {
        assertEquals("no such file: /tmp/absent", Main.describe(new NoSuchFileException("/tmp/absent")));
        assertEquals("out of memory (Java heap space); give Java more, e.g. PROMPTGRAD_JAVA_OPTS=-Xmx16g",
                Main.describe(new OutOfMemoryError("Java heap space")));
    }

    @Test
    void anythingElseIsReportedAsABug() {
        assertEquals("unexpected java.lang.NullPointerException: NullPointerException (this is a bug in promptgrad; rerun"
                + " with --debug for the stack trace)", Main.describe(new NullPointerException()));
    }
}
