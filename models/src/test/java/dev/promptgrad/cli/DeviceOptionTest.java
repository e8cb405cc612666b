package dev.promptgrad.cli;

import dev.promptgrad.backend.Backends;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code --device cuda|auto} on a machine without a usable GPU (this one, and CI): cuda is refused in one line
 * that says why; auto notes the fallback on stderr and runs on the CPU with the same result.
 */
class DeviceOptionTest {

    private static String[] generate(String device) {
        return new String[]{"generate", "--model", SharedFiles.stories260K().toString(), "--input-ids", "1",
                "--max-new-tokens", "8", "--temperature", "0", "--device", device};
    }

    @Test
    void cudaWithoutAGpuIsRefusedWithTheReason() {
        String reason = Backends.cudaUnavailableReason();
        assumeTrue(reason != null, "a GPU is usable here; this test is for machines without one");
        CliRun run = CliRun.of(generate("cuda"));
        assertEquals(1, run.exitCode(), run.err());
        assertTrue(run.err().startsWith("error: device cuda is not usable: " + reason), run.err());
        assertEquals(1, run.err().strip().lines().count(), "one line, no stack trace: " + run.err());
        assertEquals("", run.out());
    }

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        assumeTrue(Backends.cudaUnavailableReason() != null, "a GPU is usable here; auto would pick it");
        CliRun cpu = CliRun.of(generate("cpu"));
        CliRun auto = CliRun.of(generate("auto"));
        assertEquals(0, auto.exitCode(), auto.err());
        assertEquals(cpu.out(), auto.out());
        assertTrue(auto.err().startsWith("note: cuda is not usable ("), auto.err());
        assertTrue(auto.err().contains("using cpu"), auto.err());
        assertFalse(cpu.err().contains("note:"), cpu.err());
    }
}
