package dev.promptgrad.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the real files the tests use outside the repository (the {@code shared/} folder beside it, see
 * DESIGN.md's test pyramid, level 5): walks up from the working directory to the first folder that holds
 * the wanted path. Test code only.
 */
public final class SharedFiles {

    private SharedFiles() {
    }

    /** {@code shared/<relative>} in the nearest ancestor of user.dir that has it; fails clearly if none does. */
    public static Path find(String relative) {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve(relative);
            if (Files.exists(candidate)) return candidate;
        }
        throw new IllegalStateException("shared/" + relative + " was not found in " + start + " or any folder above it;"
                + " the real-model tests need it beside the repository (see DESIGN.md, test pyramid level 5)");
    }

    /** The llama2.c checkpoint of karpathy's stories260K (shared/models/stories260K/stories260K.bin). */
    public static Path stories260K() {
        return find("models/stories260K/stories260K.bin");
    }
}
