package dev.promptgrad.hard;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.Set;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEZ, GCG and AutoPrompt steps on gpt2-tiny (reference backend) against brute force: GCG's candidates rebuilt from
 * a double-precision one-hot gradient, its top-k and the same seeded draws, each scored by the model's own loss;
 * AutoPrompt's accept-only-if-better rule; PEZ's update of the continuous prompt by AdamW at the projection; and the
 * search's choice of the best judged prompt.
 */
class SearchMethodsTest {
    private static final int BOS = 60;
    private static final int[] START = {7, 23, 41, 5};

    private Backend backend;
    private LanguageModel model;
    private CandidateFilter filter;
    private VocabularyIndex index;
    private PromptObjective objective;
    private Workspace workspace;
    private List<Example> train;
    private List<Example> eval;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
        filter = CandidateFilter.build(model.vocabSize(), null, Set.of(0, BOS), CandidateFilter.Settings.DEFAULT);
        index = new VocabularyIndex(backend, model.embeddingTable(), filter);
        objective = new PromptObjective(model, new PromptPlacement(OptionalInt.of(BOS)), 0,
                PromptObjective.DEFAULT_MEMORY_BUDGET);
        workspace = new Workspace(backend, "brute force");
        SplittableRandom random = new SplittableRandom(11);
        train = new ArrayList<>();
        eval = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int[] ids = {BOS, 1 + random.nextInt(58), 1 + random.nextInt(58), 20, 21, 22};
            int[] labels = {Example.IGNORE, Example.IGNORE, Example.IGNORE, 20, 21, 22};
            (i < 4 ? train : eval).add(new Example(ids, labels));
        }
    }

    @AfterEach
    void close() {
        workspace.close();
        objective.close();
        index.close();
        model.close();
        backend.close();
    }

    @Test
    void gcgMovesToTheBestOfItsSwapsAsBruteForceFindsThem() {
        int topK = 5, candidates = 12;
        long seed = 9;
        Gcg gcg = new Gcg(objective, index, filter, START, new Gcg.Settings(topK, candidates), seed);
        double loss = gcg.step(train);

        float[] dRows = objective.gradient(START, train).dPromptRows();
        float[] table = backend.download(model.embeddingTable());
        int vocab = model.vocabSize(), dim = model.dim();
        int[][] top = new int[START.length][];
        for (int i = 0; i < START.length; i++) {
            double[] scores = new double[vocab];
            for (int v = 0; v < vocab; v++) {
                for (int c = 0; c < dim; c++) scores[v] += (double) dRows[i * dim + c] * table[v * dim + c];
            }
            top[i] = IntStream.range(0, vocab).filter(filter::allows).boxed()
                    .sorted(Comparator.<Integer>comparingDouble(v -> scores[v]).thenComparing(v -> v))
                    .limit(topK).mapToInt(Integer::intValue).toArray();
        }
        SplittableRandom random = new SplittableRandom(seed);
        int[] best = null;
        double bestLoss = Double.POSITIVE_INFINITY;
        for (int b = 0; b < candidates; b++) {
            int position = b * START.length / candidates;
            int[] swap = START.clone();
            swap[position] = top[position][random.nextInt(topK)];
            double swapLoss = modelLoss(swap, train);
            if (swapLoss < bestLoss) {
                bestLoss = swapLoss;
                best = swap;
            }
        }
        assertArrayEquals(best, gcg.current());
        assertEquals(bestLoss, loss, 1e-6);
    }

    @Test
    void autoPromptSwapsOnlyWhenTheLossGoesDown() {
        long seed = 4;
        int candidates = 6;
        AutoPrompt autoPrompt = new AutoPrompt(objective, index, filter, START, new AutoPrompt.Settings(candidates), seed);
        SplittableRandom positions = new SplittableRandom(seed);
        int[] current = START.clone();
        for (int step = 0; step < 5; step++) {
            int position = positions.nextInt(current.length);
            double currentLoss = modelLoss(current, train);
            float[] dRows = objective.gradient(current, train).dPromptRows();
            float[] row = Arrays.copyOfRange(dRows, position * model.dim(), (position + 1) * model.dim());
            int[] top = index.lowest(index.oneHotGradient(row, 1), 0, candidates);
            int[] expected = current;
            double expectedLoss = currentLoss;
            for (int token : top) {
                int[] swap = current.clone();
                swap[position] = token;
                double swapLoss = modelLoss(swap, train);
                if (swapLoss < expectedLoss) {
                    expectedLoss = swapLoss;
                    expected = swap;
                }
            }
            double loss = autoPrompt.step(train);
            assertArrayEquals(expected, autoPrompt.current(), "step " + step);
            assertEquals(expectedLoss, loss, 1e-6, "step " + step);
            assertTrue(loss <= currentLoss + 1e-6, "the loss on the batch never goes up (to rounding)");
            current = expected;
        }
        assertTrue(modelLoss(current, train) < modelLoss(START, train), "five steps found something better");
    }

    @Test
    void pezMovesTheContinuousPromptByAdamWAtTheProjection() {
        Pez pez = new Pez(objective, index, START, Pez.Settings.ADAMW);
        assertArrayEquals(START, pez.current(), "each token embedding is its own nearest token");
        float[] expected = index.embeddings(START);
        Adam adamW = new Adam(List.of(Parameter.of("prompt_embeddings", START.length, model.dim())),
                Adam.Settings.ADAMW.withWeightDecay(0.1));
        int[] projected = START;
        for (int step = 0; step < 3; step++) {
            PromptObjective.Gradient gradient = objective.gradient(projected, train);
            adamW.step(expected, gradient.dPromptRows(), 0.1);
            assertEquals(gradient.loss(), pez.step(train), 1e-12, "the loss at the projection");
            assertArrayEquals(expected, pez.continuous(), "step " + step);
            projected = index.nearest(expected, START.length);
            assertArrayEquals(projected, pez.current());
        }
    }

    @Test
    void theSearchKeepsTheBestJudgedPromptAndIsReproducible() {
        List<HardPromptSearch.Progress> steps = new ArrayList<>();
        HardPromptSearch.Settings settings = new HardPromptSearch.Settings(6, 2, 3);
        HardPromptResult result = HardPromptSearch.run(new Gcg(objective, index, filter, START, new Gcg.Settings(4, 8), 3),
                objective, train, eval, settings, steps::add);
        assertEquals(6, steps.size());
        double bestLoss = objective.loss(START, eval);
        int[] bestIds = START;
        int bestStep = 0;
        for (HardPromptSearch.Progress progress : steps) {
            assertEquals(objective.loss(progress.ids(), eval), progress.judgedLoss(), 1e-12);
            assertEquals(progress.judgedLoss() < bestLoss, progress.best());
            if (progress.best()) {
                bestLoss = progress.judgedLoss();
                bestIds = progress.ids();
                bestStep = progress.step();
            }
        }
        assertArrayEquals(bestIds, result.ids());
        assertEquals(bestStep, result.bestStep());
        assertEquals(bestLoss, result.evalLoss(), 1e-12);
        assertEquals(objective.loss(bestIds, train), result.trainLoss(), 1e-12);
        assertEquals(modelLoss(new int[0], train), result.baselineTrainLoss(), 1e-6);
        assertEquals(modelLoss(new int[0], eval), result.baselineEvalLoss(), 1e-6);
        assertTrue(result.evalLoss() < result.baselineEvalLoss(), result.toString());

        HardPromptResult again = HardPromptSearch.run(new Gcg(objective, index, filter, START, new Gcg.Settings(4, 8), 3),
                objective, train, eval, settings, null);
        assertEquals(result, again, "the same seed gives the same search");
    }

    @Test
    void aRandomStartIsAllowedAndSeeded() {
        int[] start = HardPromptSearch.randomStart(filter, 50, 8);
        assertArrayEquals(start, HardPromptSearch.randomStart(filter, 50, 8));
        assertTrue(Arrays.stream(start).allMatch(filter::allows), Arrays.toString(start));
        assertTrue(Arrays.stream(start).distinct().count() > 20, "draws spread over the vocabulary");
    }

    /** The model's own loss on the examples with {@code prompt} inserted after BOS: the brute-force score. */
    private double modelLoss(int[] prompt, List<Example> examples) {
        List<Example> prompted = new ArrayList<>();
        for (Example example : examples) {
            int[] ids = example.inputIds(), labels = example.labels();
            int[] withIds = new int[ids.length + prompt.length], withLabels = new int[ids.length + prompt.length];
            withIds[0] = ids[0];
            withLabels[0] = labels[0];
            for (int i = 0; i < prompt.length; i++) {
                withIds[1 + i] = prompt[i];
                withLabels[1 + i] = Example.IGNORE;
            }
            System.arraycopy(ids, 1, withIds, 1 + prompt.length, ids.length - 1);
            System.arraycopy(labels, 1, withLabels, 1 + prompt.length, ids.length - 1);
            prompted.add(new Example(withIds, withLabels));
        }
        workspace.reset();
        double loss = backend.downloadDouble(model.loss(new Tape(backend, workspace), RightPadding.batch(prompted, 0),
                null).value())[0];
        workspace.reset();
        return loss;
    }
}
