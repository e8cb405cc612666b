package dev.promptgrad.hard;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.data.Example;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Decoder;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.model.Llama;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each method steers a real pretrained model with real tokens: on karpathy's stories260K (token ids, no tokenizer),
 * a hard prompt of 8 tokens after BOS must make the model say one fixed continuation (its own greedy text from BOS)
 * after contexts that are its greedy continuations of other starts. Every method ends with a held-out loss at least
 * one nat below the no-prompt baseline, within a few seconds on the CPU backend; its ids are allowed tokens, and
 * the same seed retraces the same prompts.
 */
class Stories260KHardPromptTest {
    private static final int BOS = 1;
    private static final int TOKENS = 8;

    private static Backend backend;
    private static Llama model;
    private static CandidateFilter filter;
    private static final List<Example> TRAIN = new ArrayList<>();
    private static final List<Example> EVAL = new ArrayList<>();

    @BeforeAll
    static void load() {
        backend = new CpuBackend(new CpuBackend.Options(2, 1));
        model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend);
        filter = CandidateFilter.build(model.vocabSize(), null, Set.of(0, 1, 2), CandidateFilter.Settings.DEFAULT);
        int[] target = greedy(new int[] {BOS}, 8);
        Random random = new Random(42);
        for (int i = 0; i < 24; i++) {
            int[] start = {BOS, 3 + random.nextInt(model.vocabSize() - 3)};
            int[] context = concat(start, greedy(start, 5));
            int[] ids = concat(context, target);
            int[] labels = new int[ids.length];
            Arrays.fill(labels, 0, context.length, Example.IGNORE);
            System.arraycopy(target, 0, labels, context.length, target.length);
            (i < 16 ? TRAIN : EVAL).add(new Example(ids, labels));
        }
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
    }

    @Test
    void pez() {
        search(100, 8, (objective, index) -> new Pez(objective, index, start(), Pez.Settings.ADAMW));
    }

    @Test
    void gcg() {
        search(12, 4, (objective, index) -> new Gcg(objective, index, filter, start(), new Gcg.Settings(32, 32), 5));
    }

    @Test
    void autoPrompt() {
        search(25, 4, (objective, index) -> new AutoPrompt(objective, index, filter, start(), new AutoPrompt.Settings(16),
                5));
    }

    private static int[] start() {
        return HardPromptSearch.randomStart(filter, TOKENS, 1);
    }

    private interface MethodFactory {
        HardPromptMethod create(PromptObjective objective, VocabularyIndex index);
    }

    private static void search(int steps, int examplesPerStep, MethodFactory factory) {
        try (VocabularyIndex index = new VocabularyIndex(backend, model.embeddingTable(), filter);
             PromptObjective objective = new PromptObjective(model, new PromptPlacement(OptionalInt.of(BOS)), 0,
                     PromptObjective.DEFAULT_MEMORY_BUDGET)) {
            List<int[]> trajectory = new ArrayList<>();
            Function<Integer, HardPromptResult> run = count -> HardPromptSearch.run(factory.create(objective, index),
                    objective, TRAIN, EVAL, new HardPromptSearch.Settings(count, examplesPerStep, 5),
                    progress -> trajectory.add(progress.ids()));
            HardPromptResult result = run.apply(steps);
            assertTrue(result.baselineEvalLoss() > 5, "the model must not already say the target: " + result);
            assertTrue(result.evalLoss() < result.baselineEvalLoss() - 1, "held-out loss clearly below the baseline: "
                    + result);
            assertEquals(TOKENS, result.ids().length);
            assertTrue(Arrays.stream(result.ids()).allMatch(filter::allows), "allowed ids only: " + result);
            assertEquals(objective.loss(result.ids(), EVAL), result.evalLoss(), 1e-12);

            List<int[]> first = List.copyOf(trajectory.subList(0, 3));
            trajectory.clear();
            run.apply(3);
            for (int s = 0; s < 3; s++) assertArrayEquals(first.get(s), trajectory.get(s), "the same seed, step " + (s + 1));
        }
    }

    private static int[] greedy(int[] start, int count) {
        try (Decoder decoder = new CachedDecoder(model, null)) {
            return Generator.generate(decoder, start, GenerationSettings.greedy(count), null).tokens();
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
