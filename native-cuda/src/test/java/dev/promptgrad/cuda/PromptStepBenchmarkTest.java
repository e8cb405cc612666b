package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The step benchmark's path, run small on the CPU: the loss starts at ln(vocab) and AdamW lowers it. */
class PromptStepBenchmarkTest {

    @Test
    void aTinyRunStartsAtChanceAndLearns() {
        PromptStepBenchmark.Result r = PromptStepBenchmark.run("cpu", PromptStepBenchmark.shape("gpt2-tiny"), false,
                2, 8, 5, 2, 6, null);
        // weights of standard deviation 0.02 give near-uniform predictions over the 61 tokens
        assertEquals(Math.log(61), r.firstLoss(), 0.05, "first loss");
        assertTrue(r.lastLoss() < r.firstLoss() - 0.01, "AdamW on the prompt lowers the loss: " + r);
        assertTrue(r.msPerStep() > 0 && r.tokensPerSecond() > 0, r.toString());
        assertNull(r.peakAllocated(), "the CPU reports no device peak");
        String json = r.json();
        assertTrue(json.startsWith("{\"framework\": \"promptgrad\", \"model\": \"gpt2-tiny\", \"precision\": \"fp32\","
                + " \"batch\": 2, \"tokens\": 8, \"virtual_tokens\": 5,"), json);
        assertTrue(json.contains("\"peak_allocated_bytes\": null"), json);
    }

    @Test
    void aProfileListsEveryKernelOfTheTimedSteps(@TempDir Path folder) throws IOException {
        Path profile = folder.resolve("profile.md");
        PromptStepBenchmark.run("cpu", PromptStepBenchmark.shape("gpt2-tiny"), false, 2, 8, 5, 1, 2, profile);
        String table = Files.readString(profile);
        assertTrue(table.startsWith("## gpt2-tiny fp32, batch 2 × 8 tokens + 5 virtual, cpu"), table);
        for (String kernel : new String[]{"| gemm | ", "| softmax | ", "| layerNorm | ", "| crossEntropy | "}) {
            assertTrue(table.contains(kernel), kernel + " missing from\n" + table);
        }
        assertTrue(table.contains("| GEMM (batch×m×n×k) | calls/step | ms/step |"), table);
    }

    @Test
    void unknownModelsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PromptStepBenchmark.shape("gpt3"));
        assertTrue(e.getMessage().contains("use gpt2-small, gpt2-medium or gpt2-tiny"), e.getMessage());
    }
}
