package dev.promptgrad.io;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The file system had no room for a file {@link AtomicFile} was writing (ENOSPC, or a quota). Its message is
 * "no space left on device while writing TARGET"; the target is unchanged and no temporary file is left.
 * It is not thrown for other write failures (permissions, a missing folder), which keep their own exception.
 */
public final class DiskFullException extends IOException {
    private final transient Path target;

    public DiskFullException(Path target, IOException cause) {
        super("no space left on device while writing " + target, cause);
        this.target = target;
    }

    /** The file that could not be written. */
    public Path target() {
        return target;
    }

    /**
     * Whether {@code e} says the disk is full: the operating system's text for ENOSPC ("No space left on
     * device" on Linux and macOS), EDQUOT ("Disk quota exceeded") or Windows' ERROR_DISK_FULL ("There is not
     * enough space on the disk"). The JDK reports these as plain IOExceptions, so the text is all there is.
     */
    static boolean isDiskFull(IOException e) {
        if (e instanceof DiskFullException) return true;
        String message = e.getMessage();
        if (message == null) return false;
        String text = message.toLowerCase(Locale.ROOT);
        return text.contains("no space left on device") || text.contains("disk quota exceeded")
                || text.contains("not enough space on the disk");
    }
}
