package dev.promptgrad.generate;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.model.Llama;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * One loaded model shared by 8 threads, each generating with its own {@link CachedDecoder} (greedy and seeded
 * sampling, different prompts, several rounds): every thread's tokens equal those of the same request run alone on
 * one thread first. The model's weights are read-only and each decoder owns its workspace, tape and cache, which is
 * what LanguageModel's Javadoc promises. stories260K on the CPU backend.
 */
class ConcurrentGenerationTest {
    private static final int THREADS = 8;
    private static final int ROUNDS = 3;
    private static final int BOS = 1;

    /** Request r: its prompt ids and settings. */
    private static int[] prompt(int r) {
        return new int[]{BOS, 300 + 7 * r, 280 + 11 * r};
    }

    private static GenerationSettings settings(int r) {
        return r % 2 == 0 ? GenerationSettings.greedy(24)
                : new GenerationSettings(24, SamplingSettings.sample(0.9, 1000 + r), new int[0]);
    }

    private static int[] generate(Llama model, int r) {
        try (Decoder decoder = new CachedDecoder(model, null, 32)) {
            return Generator.generate(decoder, prompt(r), settings(r), null).tokens();
        }
    }

    @Test
    void eightThreadsOnOneModelGenerateWhatOneThreadDoes() throws Exception {
        try (Backend backend = new CpuBackend(new CpuBackend.Options(2, 1));
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend)) {
            int[][] alone = new int[THREADS][];
            for (int r = 0; r < THREADS; r++) alone[r] = generate(model, r);

            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<int[][]>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    int r = t;
                    Callable<int[][]> rounds = () -> {
                        start.await();
                        int[][] out = new int[ROUNDS][];
                        for (int i = 0; i < ROUNDS; i++) out[i] = generate(model, r);
                        return out;
                    };
                    results.add(pool.submit(rounds));
                }
                start.countDown();
                for (int r = 0; r < THREADS; r++) {
                    int[][] rounds = results.get(r).get(120, TimeUnit.SECONDS);
                    for (int i = 0; i < ROUNDS; i++) {
                        assertArrayEquals(alone[r], rounds[i], "request " + r + ", round " + i);
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(24, alone[0].length, "greedy generation ran to its token limit");
        }
    }
}
