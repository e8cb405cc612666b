package dev.promptgrad.encoder;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
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
 * One loaded MiniLM encoder shared by 8 threads calling {@link Encoder#embed} on different batches, several rounds
 * each: every embedding equals the one the same batch gets when embedded alone on one thread first. Each call owns
 * its workspace and tape; the weights are read-only.
 */
class ConcurrentEmbeddingTest {
    private static final int THREADS = 8;
    private static final int ROUNDS = 3;

    private static List<String> batch(int t) {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i <= t % 3; i++) texts.add("thread " + t + " says sentence " + i + " about the weather.");
        if (t % 2 == 1) texts.add("A longer sentence, so that thread " + t + "'s batch is padded on the right.");
        return texts;
    }

    @Test
    void eightThreadsOnOneEncoderEmbedWhatOneThreadDoes() throws Exception {
        try (Backend backend = new CpuBackend(new CpuBackend.Options(2, 1));
             Encoder encoder = EncoderCatalog.minilm(backend)) {
            float[][][] alone = new float[THREADS][][];
            for (int t = 0; t < THREADS; t++) alone[t] = encoder.embed(batch(t));

            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            try {
                CountDownLatch start = new CountDownLatch(1);
                List<Future<float[][][]>> results = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    List<String> texts = batch(t);
                    Callable<float[][][]> rounds = () -> {
                        start.await();
                        float[][][] out = new float[ROUNDS][][];
                        for (int i = 0; i < ROUNDS; i++) out[i] = encoder.embed(texts);
                        return out;
                    };
                    results.add(pool.submit(rounds));
                }
                start.countDown();
                for (int t = 0; t < THREADS; t++) {
                    float[][][] rounds = results.get(t).get(120, TimeUnit.SECONDS);
                    for (int i = 0; i < ROUNDS; i++) {
                        assertEquals(alone[t].length, rounds[i].length);
                        for (int s = 0; s < alone[t].length; s++) {
                            assertArrayEquals(alone[t][s], rounds[i][s], "thread " + t + ", round " + i
                                    + ", sentence " + s);
                        }
                    }
                }
            } finally {
                pool.shutdownNow();
            }
            assertEquals(384, alone[0][0].length);
        }
    }
}
