package dev.promptgrad.train;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.Example;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.testing.Fixtures;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Short training runs on the gpt2-tiny golden model (vocab 61, context 32) with made-up examples: random ids,
 * the second half of each scored. Test code only.
 */
final class TinyRuns {
    static final String MODEL = "gpt2-tiny";

    private TinyRuns() {
    }

    /** {@code count} examples of 4 to 12 tokens from {@code seed}; the first half of each is unscored input. */
    static List<Example> examples(int count, long seed) {
        Random random = new Random(seed);
        List<Example> examples = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] ids = new int[4 + random.nextInt(9)];
            for (int t = 0; t < ids.length; t++) ids[t] = 1 + random.nextInt(60);
            int[] labels = ids.clone();
            Arrays.fill(labels, 0, ids.length / 2, Example.IGNORE);
            examples.add(new Example(ids, labels));
        }
        return examples;
    }

    /** 12 training examples and 4 held out. */
    static TrainingData data() {
        return TrainingData.of(examples(12, 7), examples(4, 8));
    }

    /** A config for gpt2-tiny with a cosine schedule, warm-up, accumulation and clipping. */
    static TrainingConfig.Builder config(TrainingConfig.OptimizerKind optimizer) {
        return TrainingConfig.builder(MODEL).virtualTokens(4).optimizer(optimizer).schedule("cosine").warmup(2)
                .batch(2).gradAccum(2).steps(10).clip(0.5).seed(11).evalEvery(3).saveEvery(4);
    }

    /** What a run left: its result, or the failure that stopped it. */
    record Outcome(TrainingResult result, RuntimeException failure) {
    }

    /**
     * Trains (or, with {@code resumeFrom}, resumes) into {@code out} on {@code backend}; {@code stopAfter} &gt; 0
     * sets the stop flag after that step, and {@code observer} sees each checkpoint file.
     */
    static Outcome run(Supplier<Backend> backend, TrainingConfig config, TrainingData data, Path out, Path resumeFrom,
                       int stopAfter, Checkpoint.FileObserver observer) {
        AtomicBoolean stop = new AtomicBoolean();
        try (Backend b = backend.get(); LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(MODEL), b)) {
            PromptTrainer trainer = new PromptTrainer(model, data, config, 0, new TrainingListener() {
                @Override
                public void stepDone(StepReport report) {
                    if (report.step() == stopAfter) stop.set(true);
                }
            });
            trainer.observeFiles(observer);
            long modelBytes = b.liveBytes();
            Outcome outcome;
            try {
                TrainingResult result = resumeFrom != null ? trainer.resume(resumeFrom, out, stop)
                        : trainer.train(out, InitialPrompt.of(config, model, null, BosEosRule.NONE, data), stop);
                outcome = new Outcome(result, null);
            } catch (RuntimeException e) {
                outcome = new Outcome(null, e);
            }
            assertEquals(modelBytes, b.liveBytes(), "a run, finished or failed, frees its workspace and prompt");
            return outcome;
        }
    }

    static TrainingResult run(TrainingConfig config, TrainingData data, Path out) {
        Outcome outcome = run(ReferenceBackend::new, config, data, out, null, 0, Checkpoint.FileObserver.NONE);
        if (outcome.failure() != null) throw outcome.failure();
        return outcome.result();
    }

    static byte[] bytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
