package dev.promptgrad.hard;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vocabulary index on gpt2-tiny (61 tokens, 16 wide) against brute force in double on the host: the nearest
 * allowed token by cosine, the one-hot gradient dRows · Eᵀ and the top-k lowest scores, with exact ids, on every
 * test backend.
 */
class VocabularyIndexTest {
    private static final Set<Integer> EXCLUDED = Set.of(0, 5, 17, 60);

    @ParameterizedTest
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void nearestIsTheBruteForceArgmaxOfCosineOverAllowedTokens(TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend)) {
            float[] table = backend.download(model.embeddingTable());                           // (61, 16)
            int vocab = model.vocabSize(), dim = model.dim();
            CandidateFilter filter = CandidateFilter.build(vocab, null, EXCLUDED, CandidateFilter.Settings.DEFAULT);
            Random random = new Random(3);
            int rows = 12;
            float[] queries = new float[rows * dim];                                             // (12, 16)
            for (int i = 0; i < queries.length; i++) queries[i] = (float) random.nextGaussian();
            // row 0: a scaled copy of token 9's embedding, row 1: of excluded token 17's, row 2: all zeros
            for (int c = 0; c < dim; c++) {
                queries[c] = 3f * table[9 * dim + c];
                queries[dim + c] = 0.5f * table[17 * dim + c];
                queries[2 * dim + c] = 0f;
            }
            try (VocabularyIndex index = new VocabularyIndex(backend, model.embeddingTable(), filter)) {
                int[] nearest = index.nearest(queries, rows);
                int[] expected = new int[rows];
                for (int r = 0; r < rows; r++) expected[r] = bruteNearest(queries, r, table, vocab, dim, filter);
                assertArrayEquals(expected, nearest);
                assertEquals(9, nearest[0], "a scaled token embedding is nearest to its own token");
                assertNotEquals(17, nearest[1], "an excluded token is never chosen");
                assertEquals(1, nearest[2], "a zero row has cosine 0 everywhere: the lowest allowed id");
                for (int id : nearest) assertTrue(filter.allows(id));
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void oneHotGradientAndTopKMatchBruteForce(TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend)) {
            float[] table = backend.download(model.embeddingTable());
            int vocab = model.vocabSize(), dim = model.dim();
            CandidateFilter filter = CandidateFilter.build(vocab, null, EXCLUDED, CandidateFilter.Settings.DEFAULT);
            Random random = new Random(5);
            int rows = 3;
            float[] dRows = new float[rows * dim];
            for (int i = 0; i < dRows.length; i++) dRows[i] = (float) random.nextGaussian();
            try (VocabularyIndex index = new VocabularyIndex(backend, model.embeddingTable(), filter)) {
                float[] scores = index.oneHotGradient(dRows, rows);                               // (3, 61)
                assertEquals(rows * vocab, scores.length);
                for (int r = 0; r < rows; r++) {
                    for (int v = 0; v < vocab; v++) {
                        double dot = 0;
                        for (int c = 0; c < dim; c++) dot += (double) dRows[r * dim + c] * table[v * dim + c];
                        assertEquals(dot, scores[r * vocab + v], 1e-5 * (1 + Math.abs(dot)), "score " + r + ", " + v);
                    }
                    int[] top = index.lowest(scores, r, 10);
                    final int row = r;
                    int[] expected = IntStream.range(0, vocab).filter(filter::allows).boxed()
                            .sorted(Comparator.<Integer>comparingDouble(v -> scores[row * vocab + v]).thenComparing(v -> v))
                            .limit(10).mapToInt(Integer::intValue).toArray();
                    assertArrayEquals(expected, top, "row " + r);
                }
                assertEquals(vocab - EXCLUDED.size(), index.lowest(scores, 0, 1000).length, "k above the allowed count");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.promptgrad.testing.TestBackends#all")
    void topKBreaksTiesByIdAndSkipsNaN(TestBackends.Named named) {
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
             VocabularyIndex index = new VocabularyIndex(backend, model.embeddingTable(),
                     CandidateFilter.build(model.vocabSize(), null, EXCLUDED, CandidateFilter.Settings.DEFAULT))) {
            float[] scores = new float[model.vocabSize()];
            Arrays.fill(scores, 1f);
            scores[40] = -2f;
            scores[5] = -3f;          // excluded
            scores[3] = Float.NaN;
            scores[30] = -1f;
            scores[20] = -1f;
            assertArrayEquals(new int[] {40, 20, 30, 1, 2, 4}, index.lowest(scores, 0, 6));
        }
    }

    private static int bruteNearest(float[] queries, int r, float[] table, int vocab, int dim, CandidateFilter filter) {
        int best = -1;
        double bestCosine = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            if (!filter.allows(v)) continue;
            double dot = 0, qq = 0, tt = 0;
            for (int c = 0; c < dim; c++) {
                dot += (double) queries[r * dim + c] * table[v * dim + c];
                qq += (double) queries[r * dim + c] * queries[r * dim + c];
                tt += (double) table[v * dim + c] * table[v * dim + c];
            }
            double cosine = qq == 0 || tt == 0 ? 0 : dot / Math.sqrt(qq * tt);
            if (cosine > bestCosine) {
                bestCosine = cosine;
                best = v;
            }
        }
        return best;
    }
}
