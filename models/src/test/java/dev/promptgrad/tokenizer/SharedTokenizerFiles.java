package dev.promptgrad.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the real tokenizer files in {@code shared/tokenizers/} (see its README.md): walks up from the working
 * directory (Maven runs module tests inside the module) until a folder holding {@code shared/tokenizers} appears.
 * Fails loudly when there is none, so a missing file never turns into a silently skipped test.
 */
final class SharedTokenizerFiles {
    private SharedTokenizerFiles() {
    }

    /** {@code shared/tokenizers/<relative>}, which must exist. */
    static Path path(String relative) {
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared").resolve("tokenizers");
            if (Files.isDirectory(candidate)) {
                Path file = candidate.resolve(relative);
                if (!Files.isRegularFile(file)) {
                    throw new IllegalStateException("tokenizer test file " + file + " is missing; see " + candidate.resolve("README.md"));
                }
                return file;
            }
        }
        throw new IllegalStateException("no shared/tokenizers folder in " + start + " or any folder above it; the tokenizer"
                + " tests need the real files described in shared/tokenizers/README.md beside the repository");
    }
}
