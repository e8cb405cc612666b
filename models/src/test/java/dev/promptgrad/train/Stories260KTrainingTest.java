package dev.promptgrad.train;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.generate.CachedDecoder;
import dev.promptgrad.generate.Decoder;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.generate.Generator;
import dev.promptgrad.model.Llama;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Training steers a real pretrained model: on karpathy's stories260K, a soft prompt learns to make the model
 * say one fixed continuation (its own greedy text from BOS) after contexts that are themselves its own greedy
 * continuations of other starts, and the held-out loss ends well below the loss without a prompt.
 */
class Stories260KTrainingTest {
    private static final int BOS = 1;

    @TempDir
    Path folder;

    @Test
    void aPromptLearnsToSayAContinuation() {
        try (Backend backend = new CpuBackend(new CpuBackend.Options(2, 1));
             Llama model = Llama2cCheckpoint.load(SharedFiles.stories260K(), backend)) {
            int[] target = greedy(model, new int[] {BOS}, 8);
            Random random = new Random(42);
            List<Example> train = new ArrayList<>(), eval = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                int[] start = {BOS, 3 + random.nextInt(model.vocabSize() - 3)};
                int[] context = concat(start, greedy(model, start, 5));
                int[] ids = concat(context, target);
                int[] labels = new int[ids.length];
                Arrays.fill(labels, 0, context.length, Example.IGNORE);
                System.arraycopy(target, 0, labels, context.length, target.length);
                (i < 16 ? train : eval).add(new Example(ids, labels));
            }
            TrainingData data = TrainingData.of(train, eval);
            double noPrompt = lossWithoutPrompt(model, eval);
            TrainingConfig config = TrainingConfig.builder("stories260K").virtualTokens(8)
                    .optimizer(TrainingConfig.OptimizerKind.ADAFACTOR).batch(8).steps(40).evalEvery(20).build();
            List<Double> evalLosses = new ArrayList<>();
            PromptTrainer trainer = new PromptTrainer(model, data, config, 0, new TrainingListener() {
                @Override
                public void evaluated(int step, double evalLoss, boolean best) {
                    evalLosses.add(evalLoss);
                }
            });
            TrainingResult result = trainer.train(folder.resolve("run"),
                    InitialPrompt.of(config, model, null, BosEosRule.NONE, data), new AtomicBoolean());
            assertEquals(Checkpoint.Status.FINISHED, result.status());
            assertEquals(3, evalLosses.size(), "held-out loss at steps 0, 20 and 40: " + evalLosses);
            assertTrue(noPrompt > 3, "the model must not already say the target after these contexts: " + noPrompt);
            assertTrue(evalLosses.get(0) > 0.5 * noPrompt, "a vocabulary-sampled start is no shortcut: " + evalLosses);
            assertTrue(result.bestEvalLoss() < 0.1 * noPrompt, "held-out loss " + result.bestEvalLoss()
                    + " after 40 steps, without a prompt " + noPrompt);
            // the best checkpoint is the evaluation with the lowest held-out loss (which of steps 20 and 40 that is
            // depends on float rounding: Adafactor at rate 0.3 amplifies 1e-7 differences over 20 steps)
            int lowest = evalLosses.indexOf(evalLosses.stream().min(Double::compare).orElseThrow());
            assertEquals(20 * lowest, result.bestStep(), "held-out losses " + evalLosses);
            assertEquals(evalLosses.get(lowest), result.bestEvalLoss(), 0, "held-out losses " + evalLosses);
        }
    }

    /** The mean loss over every labelled token of {@code examples} with no soft prompt at all. */
    private static double lossWithoutPrompt(Llama model, List<Example> examples) {
        try (Workspace workspace = new Workspace(model.backend(), "no prompt")) {
            Tape tape = new Tape(model.backend(), workspace);
            Variable loss = model.loss(tape, RightPadding.batch(examples, 0), null);
            return model.backend().downloadDouble(loss.value())[0];
        }
    }

    private static int[] greedy(Llama model, int[] start, int count) {
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
