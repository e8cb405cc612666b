package dev.promptgrad.cli;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code promptgrad bench step} on tiny shapes: the JSON fields and their consistency (FLOPs, tokens/s, the
 * profile), the text form, and the refusals of impossible shapes. It times nothing against a bound.
 */
class BenchStepCommandTest {

    private static final String[] TINY = {"bench", "step", "--layers", "2", "--heads", "2", "--dim", "16",
            "--vocab", "50", "--positions", "32", "--batch", "2", "--tokens", "6", "--virtual-tokens", "3",
            "--steps", "2", "--warmup", "2", "--threads", "2"};

    /** TINY with {@code more} added, a flag in {@code more} replacing TINY's value for it. */
    private static String[] with(String... more) {
        List<String> args = new ArrayList<>(List.of(TINY));
        for (int i = 0; i < more.length; i++) {
            int at = args.indexOf(more[i]);
            if (at >= 2 && more[i].startsWith("--") && i + 1 < more.length && !more[i + 1].startsWith("--")) {
                args.set(at + 1, more[++i]);
            } else {
                args.add(more[i]);
            }
        }
        return args.toArray(new String[0]);
    }

    @Test
    void jsonReportsConsistentTimingsFlopsAndMemory() {
        CliRun run = CliRun.of(with("--json", "--labelled", "last:2"));
        assertEquals(Main.OK, run.exitCode(), run.describe());
        JsonObject o = JsonObject.of(Json.parse(run.out().strip(), "stdout", JsonLimits.upTo(1 << 20)), "stdout");
        assertEquals("last:2", o.requireString("labelled"));
        assertEquals(4, o.requireInt("labelled_rows"));
        double median = o.requireDouble("median_ms");
        assertTrue(o.requireDouble("min_ms") <= median && median <= o.requireDouble("max_ms"), run.out());
        assertEquals(2 * 6 / (median / 1e3), o.requireDouble("tokens_per_s"), 1e-6 * o.requireDouble("tokens_per_s"));
        // GEMM FLOPs: 2 sequences of 3 + 5 positions (the last one reaches no loss), so 16 rows; the last layer runs
        // its queries, attention and MLP at the 2 scored positions of each sequence only (4 rows); the head at the 4
        // scored rows. Backward: one GEMM per projection, four per attention where forward has two.
        long rows = 16, dim = 16, hidden = 64, heads = 2, t = 8, headSize = 8, vocab = 50;
        long qkv = 2 * rows * dim * 3 * dim;
        long rest = 2 * dim * (dim + 2 * hidden);                          // per row: c_proj, c_fc, mlp c_proj
        long attention = 2 * heads * 2 * t * headSize;                     // per query row, one GEMM, 2 sequences
        long first = 2 * (qkv + rows * rest) + 6 * t * attention;
        long last = 2 * (qkv + 4 * rest) + 6 * 2 * attention;
        long expected = first + last + 2 * (2 * 4 * dim * vocab);
        assertEquals(expected, o.requireLong("flops_per_step"), run.out());
        assertEquals(0, o.requireInt("allocations_after_warmup"));
        assertTrue(o.requireLong("peak_rss_bytes") > 0 || o.requireLong("peak_rss_bytes") == -1);
        JsonObject profile = o.requireObject("profile");
        assertTrue(profile.requireObject("gemm").requireDouble("calls") > 0, run.out());
        assertTrue(o.requireObject("sgemm").requireDouble("gflops_per_s") > 0, run.out());
    }

    @Test
    void textNamesTheShapeAndProfilesKernels() {
        CliRun run = CliRun.of(with("--profile", "--arch", "llama", "--kv-heads", "1"));
        assertEquals(Main.OK, run.exitCode(), run.describe());
        assertTrue(run.out().startsWith("llama: 2 layers, dim 16, 2 heads (1 kv), hidden 64, vocab 50; batch 2 × (3"
                + " virtual + 6 tokens), labelled all (12 scored rows); cpu, 2 threads"), run.out());
        assertTrue(run.out().contains("GFLOP/s"), run.out());
        assertTrue(run.out().contains("rmsNormBackward"), run.out());
        assertTrue(run.out().contains("backend allocations after warm-up: 0"), run.out());
    }

    @Test
    void impossibleShapesAreRefusedInOneLine() {
        CliRun tooLong = CliRun.of(with("--positions", "8"));
        assertEquals(Main.FAILED, tooLong.exitCode(), tooLong.describe());
        assertTrue(tooLong.err().contains("exceed --positions 8"), tooLong.err());
        CliRun badLabels = CliRun.of(with("--labelled", "last:9"));
        assertEquals(Main.FAILED, badLabels.exitCode(), badLabels.describe());
        assertTrue(badLabels.err().contains("last:K with 1 ≤ K ≤ --tokens (6)"), badLabels.err());
        CliRun gpt2KvHeads = CliRun.of(with("--kv-heads", "1"));
        assertEquals(Main.FAILED, gpt2KvHeads.exitCode(), gpt2KvHeads.describe());
    }
}
