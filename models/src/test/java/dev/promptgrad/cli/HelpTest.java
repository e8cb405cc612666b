package dev.promptgrad.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --help on every command, the overview without a command, and usage errors (exit 2, one line, no trace). */
class HelpTest {

    private static void assertHelp(CliRun run, String usageLine, String... flags) {
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertEquals("", run.err(), run.describe());
        assertTrue(run.out().startsWith(usageLine), run.describe());
        for (String flag : flags) assertTrue(run.out().contains(flag), flag + " missing from\n" + run.out());
    }

    @Test
    void topLevelHelpListsTheCommands() {
        assertHelp(CliRun.of("--help"), "Usage: promptgrad [-h] COMMAND", "generate", "grad");
    }

    @Test
    void generateHelpListsEveryFlag() {
        assertHelp(CliRun.of("generate", "--help"), "Usage: promptgrad generate ", "--model=PATH", "--tokenizer=FILE",
                "--prompt=ADAPTER_DIR", "--text=TEXT", "--input-ids=ID", "--max-new-tokens=N", "--temperature=T",
                "--top-k=K", "--top-p=P", "--repetition-penalty=R", "--seed=S", "--json", "--device=DEVICE",
                "cpu, cuda, auto, reference", "--tf32", "--threads=N", "--debug");
    }

    @Test
    void gradHelpListsEveryFlag() {
        assertHelp(CliRun.of("grad", "-h"), "Usage: promptgrad grad ", "--model=PATH", "--tokenizer=FILE",
                "--prompt=ADAPTER_DIR", "--init=SPEC", "random:SEED:N", "--data=FILE.jsonl", "--out=GRAD.safetensors",
                "--json", "--device=DEVICE", "--threads=N", "--debug");
    }

    @Test
    void noCommandPrintsTheOverviewAsAUsageError() {
        CliRun run = CliRun.of();
        assertEquals(Main.USAGE, run.exitCode());
        assertEquals("", run.out());
        assertTrue(run.err().startsWith("Usage: promptgrad [-h] COMMAND"), run.describe());
    }

    @Test
    void usageErrorsAreOneLineWithAPointerToHelp() {
        CliRun unknown = CliRun.of("fly");
        assertEquals(Main.USAGE, unknown.exitCode());
        assertEquals("error: Unmatched argument at index 0: 'fly' (see 'promptgrad --help')\n", unknown.err());

        CliRun missing = CliRun.of("grad", "--model", "m", "--prompt", "p", "--out", "o.safetensors");
        assertEquals(Main.USAGE, missing.exitCode());
        assertEquals("error: Missing required option: '--data=FILE.jsonl' (see 'promptgrad grad --help')\n", missing.err());

        CliRun both = CliRun.of("generate", "--model", "m", "--text", "a", "--input-ids", "1");
        assertEquals(Main.USAGE, both.exitCode());
        assertTrue(both.err().startsWith("error: Error: --text=TEXT, --input-ids=ID are mutually exclusive"), both.describe());

        CliRun badNumber = CliRun.of("generate", "--model", "m", "--input-ids", "1,x");
        assertEquals(Main.USAGE, badNumber.exitCode());
        assertTrue(badNumber.err().contains("'x' is not an int"), badNumber.describe());

        CliRun badDevice = CliRun.of("generate", "--model", "m", "--input-ids", "1", "--device", "tpu");
        assertEquals(Main.USAGE, badDevice.exitCode());
        assertTrue(badDevice.err().contains("--device"), badDevice.describe());
        assertEquals(1, badDevice.err().lines().count(), badDevice.describe());
    }
}
