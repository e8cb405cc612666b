package dev.promptgrad.cuda;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Skips a test class that needs a GPU, with {@link CudaAvailability}'s one-line reason, when the CUDA backend
 * cannot open here (a laptop, CI without the emulator). It never skips where the tests must run: with
 * {@code -Dpromptgrad.requireCuda=true} (the device check) or in Maven's emulated-cuda execution once the emulator
 * built, so a machine that should have a usable device fails loudly instead.
 */
final class RequiresCuda implements ExecutionCondition {

    /** The directory of the built CUDA emulator, set only in the emulated-cuda execution; null elsewhere. */
    static Path emulatorDirectory() {
        String directory = System.getProperty("promptgrad.cuda.emulator");
        return directory == null ? null : Path.of(directory);
    }

    /** Why the emulator was not built (no g++), or null when it was built or this is not the emulated run. */
    static String emulatorSkipped() {
        Path directory = emulatorDirectory();
        if (directory == null) return null;
        try {
            Path skipped = directory.resolve("SKIPPED");
            return Files.exists(skipped) ? Files.readString(skipped).strip() : null;
        } catch (java.io.IOException e) {
            return "the emulator's SKIPPED file could not be read: " + e.getMessage();
        }
    }

    /** Whether the GPU tests must run (and fail, not skip, when the device cannot open). */
    static boolean required() {
        return Boolean.getBoolean("promptgrad.requireCuda") || (emulatorDirectory() != null && emulatorSkipped() == null);
    }

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        CudaAvailability.Report report = CudaAvailability.probe();
        if (report.usable()) return ConditionEvaluationResult.enabled("CUDA: " + report.describe());
        if (required()) {
            return ConditionEvaluationResult.enabled("a device is required here, so the tests run (and fail): "
                    + report.reason());
        }
        return ConditionEvaluationResult.disabled("skipped: " + report.reason());
    }
}
