package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CausalTransformer#loss} computes the head only at scored rows and runs no position after the last scored
 * one; its loss and dLoss/dPrompt must equal those of the plain route (logits at every position, then the
 * cross-entropy over all rows), for labels everywhere, on the last tokens only and on one middle token, on the
 * three golden fixture models with padding.
 */
class ScoredRowsLossTest {

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> GoldenFixture.NAMES.stream().flatMap(name -> Stream.of("fixture",
                "last 2", "one middle token").map(labels -> Arguments.of(GoldenFixture.load(name), b, labels))));
    }

    @ParameterizedTest(name = "{0} on {1}, labels: {2}")
    @MethodSource("cases")
    void scoredRowsGiveTheLossAndGradientOfFullLogits(GoldenFixture fixture, TestBackends.Named named, String labels) {
        TokenBatch golden = fixture.batch();
        TokenBatch batch = new TokenBatch(golden.size(), golden.length(), golden.ids(), golden.attentionMask(),
                labels(golden, labels));
        int p = fixture.promptLength();
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(fixture.folder(), backend);
             Workspace workspace = new Workspace(backend, "scored rows");
             Scope scope = new Scope(backend, "prompt")) {
            Tensor promptValues = scope.of(fixture.tensor("prompt"), p, model.dim());
            Tape tape = new Tape(backend, workspace);
            Variable prompt = tape.parameter(promptValues, "prompt");
            Variable fast = model.loss(tape, batch, prompt);
            double fastLoss = backend.downloadDouble(fast.value())[0];
            float[] fastGradient = backend.download(tape.backward(fast).of(prompt));
            tape.reset();

            Variable again = tape.parameter(promptValues, "prompt");
            Variable logits = model.logits(tape, batch, again);
            Variable plain = CrossEntropy.apply(tape, logits, batch.nextTokenTargets(p));
            double plainLoss = backend.downloadDouble(plain.value())[0];
            float[] plainGradient = backend.download(tape.backward(plain).of(again));

            assertEquals(plainLoss, fastLoss, 1e-5 * Math.abs(plainLoss), fixture + " loss, labels " + labels);
            Compare.assertClose(plainGradient, fastGradient, 1e-5, fixture + " dLoss/dPrompt, labels " + labels);
            assertTrue(Arrays.stream(toDouble(fastGradient)).anyMatch(g -> g != 0), "the gradient is not all zero");
        }
    }

    /** The golden labels, or labels on each sequence's last 2 real tokens, or on one token in the middle. */
    private static int[] labels(TokenBatch golden, String which) {
        if (which.equals("fixture")) return golden.labels();
        int[] ids = golden.ids(), mask = golden.attentionMask(), labels = new int[ids.length];
        Arrays.fill(labels, CrossEntropy.IGNORE);
        int length = golden.length();
        for (int b = 0; b < golden.size(); b++) {
            int real = 0;
            for (int t = 0; t < length; t++) if (mask == null || mask[b * length + t] == 1) real = t + 1;
            if (which.equals("last 2")) {
                for (int t = Math.max(0, real - 2); t < real; t++) labels[b * length + t] = ids[b * length + t];
            } else if (b == 0) {
                labels[real / 2] = ids[real / 2];
            }
        }
        return labels;
    }

    private static double[] toDouble(float[] values) {
        double[] wide = new double[values.length];
        for (int i = 0; i < values.length; i++) wide[i] = values[i];
        return wide;
    }
}
