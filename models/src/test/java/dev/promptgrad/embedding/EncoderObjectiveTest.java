package dev.promptgrad.embedding;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderBatch;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.TinyBert;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingObjective;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The encoder objectives on the tiny random BERT, on the reference backend (double sums, float32 tensors, as the
 * model's weights are float32): dLoss/dPrompt of classify and contrastive against central finite differences, for
 * both prompt placements; each loss against the same formula
 * computed by hand from embeddings encoded one text at a time; the label embeddings are the label texts' without
 * the prompt; accuracy is the share of texts nearest their own label.
 */
class EncoderObjectiveTest {
    static final int PROMPT_ROWS = 3;
    static final int DIM = 16;

    private ReferenceBackend backend;
    private Encoder encoder;
    private Scope scope;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        encoder = TinyBert.open(backend);
        scope = new Scope(backend, "objective test");
    }

    @AfterEach
    void close() {
        scope.close();
        encoder.close();
        assertEquals(0, backend.liveBytes(), "every buffer of the test is freed");
        backend.close();
    }

    static List<LabelledText> labelled() {
        return List.of(new LabelledText("the team score a goal", "sports"),
                new LabelledText("bake the bread in the oven", "cooking"),
                new LabelledText("the app was bad on the new phone", "tech"),
                new LabelledText("coach was good", "sports"),
                new LabelledText("salt the soup", "cooking"));
    }

    static List<TextPair> pairs() {
        return List.of(new TextPair("ball match", "the team score a goal"),
                new TextPair("bake bread", "the oven was old"),
                new TextPair("fever", "the doctor and the nurse"),
                new TextPair("hotel beach", "we train to the beach hotel"));
    }

    private ClassifyObjective classify(PromptPlacement placement, double temperature) {
        return new ClassifyObjective(encoder, EncoderData.of(labelled(), List.of(), "tiny labelled texts"),
                TrainingConfig.Objective.of(TrainingConfig.Objective.Kind.CLASSIFY, placement, temperature,
                        "a {label} text"));
    }

    private ContrastiveObjective contrastive(PromptPlacement placement, double temperature) {
        return new ContrastiveObjective(encoder, EncoderData.of(pairs(), List.of(), "tiny pairs"),
                TrainingConfig.Objective.of(TrainingConfig.Objective.Kind.CONTRASTIVE, placement, temperature, null));
    }

    private double[] randomPrompt(long seed) {
        Random random = new Random(seed);
        double[] values = new double[PROMPT_ROWS * DIM];
        for (int i = 0; i < values.length; i++) values[i] = random.nextGaussian();
        return values;
    }

    /** The batch's loss with {@code prompt} as a constant. */
    private double loss(TrainingObjective.Batch batch, double[] prompt) {
        try (Workspace workspace = new Workspace(backend, DType.F32, "loss")) {
            Tape tape = new Tape(backend, workspace);
            Tensor values = scope.of(DType.F32, prompt, PROMPT_ROWS, DIM);
            return backend.downloadDouble(batch.loss(tape, tape.constant(values, "prompt")).value())[0];
        }
    }

    /** dLoss/dPrompt from the tape. */
    private double[] gradient(TrainingObjective.Batch batch, double[] prompt) {
        try (Workspace workspace = new Workspace(backend, DType.F32, "gradient")) {
            Tape tape = new Tape(backend, workspace);
            Variable p = tape.parameter(scope.of(DType.F32, prompt, PROMPT_ROWS, DIM), "prompt");
            Variable loss = batch.loss(tape, p);
            return backend.downloadDouble(tape.backward(loss).of(p));
        }
    }

    /**
     * Central differences (L(p + h) − L(p − h)) / 2h of the loss in every prompt value, against the tape's gradient.
     * With h = 1e-2 the truncation error is h²/6 · L''' (about 1e-5 here) and float32 rounding of a loss near 1
     * adds about 1e-7 / h = 1e-5; every element must agree to 1e-3 of the largest one, which a missing factor or a
     * wrong row far exceeds (a backward 1% off fails).
     */
    private void checkGradient(String what, TrainingObjective.Batch batch, double[] prompt) {
        double[] analytic = gradient(batch, prompt);
        double scale = 0;
        for (double g : analytic) scale = Math.max(scale, Math.abs(g));
        assertTrue(scale > 1e-3, what + ": the gradient is not trivially zero (largest element " + scale + ")");
        double h = 1e-2;
        for (int i = 0; i < prompt.length; i++) {
            double[] shifted = prompt.clone();
            shifted[i] = prompt[i] + h;
            double above = loss(batch, shifted);
            shifted[i] = prompt[i] - h;
            double below = loss(batch, shifted);
            double numeric = (above - below) / (2 * h);
            assertTrue(Math.abs(numeric - analytic[i]) < 1e-3 * scale, what + ": dPrompt[" + i / DIM + ", "
                    + i % DIM + "] is " + analytic[i] + " on the tape but " + numeric + " by finite differences");
        }
    }

    @ParameterizedTest
    @EnumSource(PromptPlacement.class)
    void classifyGradientMatchesFiniteDifferences(PromptPlacement placement) {
        ClassifyObjective objective = classify(placement, 0.1);
        checkGradient("classify " + placement, objective.trainBatch(new int[] {0, 1, 2, 3, 4}, PROMPT_ROWS),
                randomPrompt(1));
    }

    @ParameterizedTest
    @EnumSource(PromptPlacement.class)
    void contrastiveGradientMatchesFiniteDifferences(PromptPlacement placement) {
        ContrastiveObjective objective = contrastive(placement, 0.05);
        checkGradient("contrastive " + placement, objective.trainBatch(new int[] {3, 0, 2, 1}, PROMPT_ROWS),
                randomPrompt(2));
    }

    /** Unit embeddings of each text with the prompt, encoded one at a time (no padding), as doubles. */
    private double[][] embedAlone(List<String> texts, double[] prompt, PromptPlacement placement) {
        double[][] out = new double[texts.size()][];
        for (int i = 0; i < texts.size(); i++) {
            try (Workspace workspace = new Workspace(backend, DType.F32, "alone")) {
                Tape tape = new Tape(backend, workspace);
                EncoderBatch batch = encoder.batch(List.of(texts.get(i)), prompt == null ? 0 : PROMPT_ROWS);
                Variable p = prompt == null ? null : tape.constant(scope.of(DType.F32, prompt, PROMPT_ROWS, DIM), "p");
                Variable embedding = encoder.model().forward(tape, batch, p, placement).pooled();
                double[] pooled = backend.downloadDouble(embedding.value());
                double norm = 0;
                for (double v : pooled) norm += v * v;
                for (int d = 0; d < pooled.length; d++) pooled[d] /= Math.sqrt(norm);
                out[i] = pooled;
            }
        }
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) sum += a[i] * b[i];
        return sum;
    }

    /** −log softmax(scores)[target]. */
    private static double crossEntropy(double[] scores, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (double s : scores) max = Math.max(max, s);
        double sum = 0;
        for (double s : scores) sum += Math.exp(s - max);
        return Math.log(sum) + max - scores[target];
    }

    @Test
    void contrastiveLossIsMultipleNegativesRankingByHand() {
        double temperature = 0.05;
        PromptPlacement placement = PromptPlacement.AFTER_CLS;
        ContrastiveObjective objective = contrastive(placement, temperature);
        double[] prompt = randomPrompt(3);
        int[] order = {2, 0, 3};
        List<TextPair> batch = new ArrayList<>();
        for (int i : order) batch.add(pairs().get(i));
        double[][] queries = embedAlone(batch.stream().map(TextPair::query).toList(), prompt, placement);
        double[][] positives = embedAlone(batch.stream().map(TextPair::positive).toList(), prompt, placement);
        double expected = 0;
        for (int i = 0; i < batch.size(); i++) {
            double[] scores = new double[batch.size()];
            for (int j = 0; j < batch.size(); j++) scores[j] = dot(queries[i], positives[j]) / temperature;
            expected += crossEntropy(scores, i);
        }
        expected /= batch.size();
        TrainingObjective.Batch padded = objective.trainBatch(order, PROMPT_ROWS);
        assertEquals(3, padded.weight(), "a contrastive batch weighs its pairs");
        assertEquals(expected, loss(padded, prompt), 1e-5 * Math.abs(expected),
                "mean over queries of −log softmax_j(cos(q_i, p_j)/τ)[i]");
        assertTrue(expected > 0.1, "the pairs are not trivially separated: " + expected);
    }

    @Test
    void classifyLossUsesLabelTextsEncodedWithoutThePrompt() {
        double temperature = 0.2;
        PromptPlacement placement = PromptPlacement.BEFORE_CLS;
        ClassifyObjective objective = classify(placement, temperature);
        assertEquals(List.of("sports", "cooking", "tech"), objective.labels(), "labels in order of first appearance");
        double[][] labelRows = embedAlone(List.of("a sports text", "a cooking text", "a tech text"), null, placement);
        float[] labelEmbeddings = objective.labelEmbeddings();
        for (int l = 0; l < 3; l++) {
            for (int d = 0; d < DIM; d++) {
                assertEquals(labelRows[l][d], labelEmbeddings[l * DIM + d], 1e-6, "label " + l + " dim " + d);
            }
        }
        double[] prompt = randomPrompt(4);
        List<LabelledText> texts = labelled();
        double[][] embeddings = embedAlone(texts.stream().map(LabelledText::text).toList(), prompt, placement);
        int[] targets = {0, 1, 2, 0, 1};
        double expected = 0;
        for (int i = 0; i < texts.size(); i++) {
            double[] scores = new double[3];
            for (int l = 0; l < 3; l++) {
                double[] label = new double[DIM];
                for (int d = 0; d < DIM; d++) label[d] = labelEmbeddings[l * DIM + d];
                scores[l] = dot(embeddings[i], label) / temperature;
            }
            expected += crossEntropy(scores, targets[i]);
        }
        expected /= texts.size();
        assertEquals(expected, loss(objective.trainBatch(new int[] {0, 1, 2, 3, 4}, PROMPT_ROWS), prompt),
                1e-5 * Math.abs(expected), "mean of −log softmax(cos(text, labels)/τ)[own label]");
    }

    @Test
    void accuracyIsTheShareOfTextsNearestTheirOwnLabel() {
        ClassifyObjective objective = classify(PromptPlacement.BEFORE_CLS, 0.1);
        List<LabelledText> texts = labelled();
        double[] prompt = randomPrompt(5);
        float[] promptFloats = new float[prompt.length];
        for (int i = 0; i < prompt.length; i++) promptFloats[i] = (float) prompt[i];
        for (float[] p : new float[][] {null, promptFloats}) {
            double[] asDouble = null;
            if (p != null) {
                asDouble = new double[p.length];
                for (int i = 0; i < p.length; i++) asDouble[i] = p[i];
            }
            double[][] embeddings = embedAlone(texts.stream().map(LabelledText::text).toList(), asDouble,
                    PromptPlacement.BEFORE_CLS);
            float[] labels = objective.labelEmbeddings();
            int[] expected = new int[texts.size()];
            int correct = 0;
            for (int i = 0; i < texts.size(); i++) {
                double best = Double.NEGATIVE_INFINITY;
                for (int l = 0; l < 3; l++) {
                    double cosine = 0;
                    for (int d = 0; d < DIM; d++) cosine += embeddings[i][d] * labels[l * DIM + d];
                    if (cosine > best) {
                        best = cosine;
                        expected[i] = l;
                    }
                }
                if (expected[i] == objective.labels().indexOf(texts.get(i).label())) correct++;
            }
            ClassifyObjective.Accuracy accuracy = objective.accuracy(texts, p);
            assertArrayEquals(expected, accuracy.predicted(), p == null ? "no prompt" : "with a prompt");
            assertEquals(correct, accuracy.correct());
            assertEquals(5, accuracy.total());
        }
    }
}
