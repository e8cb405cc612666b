package dev.promptgrad.train;

import dev.promptgrad.model.WeightStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The device check's step benchmark, run small on the CPU: the loss starts at chance and AdamW lowers it. */
class DeviceStepBenchmarkTest {

    @Test
    void aTinyRunStartsAtChanceAndLearns() {
        for (WeightStorage weights : new WeightStorage[] {WeightStorage.F32, WeightStorage.BF16}) {
            DeviceStepBenchmark.Result r = DeviceStepBenchmark.run("cpu", "gpt2-tiny", false, weights, 2, 8, 5, 2, 6,
                    null);
            // weights of standard deviation 0.02 give near-uniform predictions over the 61 tokens
            assertEquals(Math.log(61), r.firstLoss(), 0.05, weights + ": first loss");
            assertTrue(r.lastLoss() < r.firstLoss() - 0.01, weights + ": AdamW on the prompt lowers the loss: " + r);
            assertTrue(r.msPerStep() > 0 && r.tokensPerSecond() > 0, r.toString());
            assertNull(r.peakAllocated(), "the CPU reports no device peak");
            String framework = weights == WeightStorage.BF16 ? "promptgrad bf16 weights" : "promptgrad";
            String json = r.json();
            assertTrue(json.startsWith("{\"framework\": \"" + framework + "\", \"model\": \"gpt2-tiny\", \"precision\":"
                    + " \"fp32\", \"batch\": 2, \"tokens\": 8, \"virtual_tokens\": 5,"), json);
            assertTrue(json.contains("\"peak_allocated_bytes\": null"), json);
        }
    }

    @Test
    void aProfileListsEveryKernelOfTheTimedSteps(@TempDir Path folder) throws IOException {
        Path profile = folder.resolve("profile.md");
        DeviceStepBenchmark.run("cpu", "gpt2-tiny", false, WeightStorage.F32, 2, 8, 5, 1, 2, profile);
        String table = Files.readString(profile);
        assertTrue(table.startsWith("## gpt2-tiny fp32, batch 2 × 8 tokens + 5 virtual, cpu"), table);
        for (String kernel : new String[] {"| gemm | ", "| softmax | ", "| layerNorm | ", "| crossEntropy | "}) {
            assertTrue(table.contains(kernel), kernel + " missing from\n" + table);
        }
    }

    @Test
    void unknownShapesAndOptionsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceStepBenchmark.shape("gpt3"));
        assertTrue(e.getMessage().contains("gpt2-small, gpt2-medium or gpt2-tiny"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DeviceStepBenchmark.main(new String[] {"--weights", "fp8"}));
        assertTrue(e.getMessage().contains("weights fp8"), e.getMessage());
    }
}
