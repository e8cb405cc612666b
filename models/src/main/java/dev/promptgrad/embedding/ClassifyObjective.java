package dev.promptgrad.embedding;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.ops.MatMul;
import dev.promptgrad.ops.Reshape;
import dev.promptgrad.ops.Scale;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingObjective;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --objective classify}: each text's embedding, with the prompt, should be nearer its own label's embedding
 * than any other label's. The label embeddings are the label texts ({@code --label-text}, e.g. "a sentence about
 * {label}") encoded by the same encoder WITHOUT the prompt, once, and held fixed: the prompt moves the texts towards
 * their labels, not the labels. Loss: softmax cross-entropy over cos(text, label)/τ; prediction: the label of
 * highest cosine. Labels are numbered in order of first appearance (training data, then held-out). See
 * docs/encoders.md.
 */
public final class ClassifyObjective extends EncoderObjective {

    /**
     * How many of {@code total} texts were given their own label.
     *
     * @param predicted the index (into {@link #labels()}) of each text's nearest label
     */
    public record Accuracy(int correct, int total, int[] predicted) {
        public double fraction() {
            return total == 0 ? Double.NaN : (double) correct / total;
        }
    }

    private final EncoderData<LabelledText> data;
    private final List<String> labels;
    private final float[] labelEmbeddings;   // (labels, dim) unit rows, encoded without the prompt
    private final Map<String, Integer> labelIndex;

    /** Encodes the label texts (without a prompt) on the encoder's backend. */
    public ClassifyObjective(Encoder encoder, EncoderData<LabelledText> data, TrainingConfig.Objective settings) {
        super(encoder, settings, TrainingConfig.Objective.Kind.CLASSIFY);
        this.data = data;
        this.labelIndex = new LinkedHashMap<>();
        for (List<LabelledText> set : List.of(data.train(), data.eval())) {
            for (LabelledText example : set) labelIndex.putIfAbsent(example.label(), labelIndex.size());
        }
        if (labelIndex.size() < 2) {
            throw new IllegalArgumentException(data.description() + " has " + labelIndex.size() + " distinct label "
                    + labelIndex.keySet() + "; classify needs at least two to choose between");
        }
        this.labels = List.copyOf(labelIndex.keySet());
        List<String> labelTexts = labels.stream().map(settings::labelText).toList();
        int dim = width();
        this.labelEmbeddings = new float[labels.size() * dim];
        for (int from = 0; from < labelTexts.size(); from += FORWARD_BATCH) {
            float[][] rows = encoder.embed(labelTexts.subList(from, Math.min(labelTexts.size(), from + FORWARD_BATCH)));
            for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, labelEmbeddings, (from + i) * dim, dim);
        }
        for (int l = 0; l < labels.size(); l++) normalize(labelEmbeddings, l * dim, dim);
    }

    /** The distinct labels, in the order the predictions number them. */
    public List<String> labels() {
        return labels;
    }

    /** The label texts' unit embeddings without the prompt, (labels, dim) row-major; a copy. */
    public float[] labelEmbeddings() {
        return labelEmbeddings.clone();
    }

    public EncoderData<LabelledText> data() {
        return data;
    }

    @Override
    public int trainSize() {
        return data.train().size();
    }

    @Override
    public int evalSize() {
        return data.eval().size();
    }

    @Override
    public String dataDescription() {
        return data.description() + ", labels " + labels;
    }

    /** SHA-256 over each training then held-out text's token ids followed by its label's index. */
    @Override
    public String dataFingerprint() {
        List<int[]> sequences = new ArrayList<>();
        for (List<LabelledText> set : List.of(data.train(), data.eval())) {
            sequences.add(new int[] {set.size()});
            for (LabelledText example : set) {
                sequences.add(encoder.tokenizer().encodeForModel(example.text()));
                sequences.add(new int[] {labelIndex.get(example.label())});
            }
        }
        return sha256(sequences);
    }

    @Override
    List<int[]> labelTokens() {
        return labels.stream().map(label -> encoder.tokenizer().encode(settings.labelText(label))).toList();
    }

    @Override
    public TrainingObjective.Batch trainBatch(int[] indices, int promptRows) {
        List<LabelledText> examples = new ArrayList<>(indices.length);
        for (int i : indices) examples.add(data.train().get(i));
        return batch(examples, promptRows);
    }

    @Override
    public TrainingObjective.Batch evalBatch(int from, int to, int promptRows) {
        return batch(data.eval().subList(from, to), promptRows);
    }

    private Batch batch(List<LabelledText> examples, int promptRows) {
        int[] targets = new int[examples.size()];
        for (int i = 0; i < targets.length; i++) targets[i] = labelIndex.get(examples.get(i).label());
        return new Batch(encoder.batch(examples.stream().map(LabelledText::text).toList(), promptRows), targets);
    }

    /** A batch of texts and the index of each one's label. */
    private final class Batch implements TrainingObjective.Batch {
        private final EncoderBatch texts;
        private final int[] targets;   // (B)

        Batch(EncoderBatch texts, int[] targets) {
            this.texts = texts;
            this.targets = targets;
        }

        /** Mean over the texts of −log softmax(cos(text, labels)/τ)[own label]. */
        @Override
        public Variable loss(Tape tape, Variable prompt) {
            int rows = texts.batch(), dim = width(), count = labels.size();
            Variable unit = unitEmbeddings(tape, texts, prompt);                                     // (B, dim)
            Variable embeddings = Reshape.apply(tape, unit, 1, rows, dim);                           // (1, B, dim)
            Tensor labelRows = tape.allocate(1, count, dim);                                         // (1, L, dim)
            tape.backend().upload(labelEmbeddings, labelRows);
            // PyTorch: cos = embeddings @ label_embeddings.T   (both rows of unit length)
            Variable labelConstants = tape.constant(labelRows, "label embeddings");
            Variable cosines = MatMul.apply(tape, embeddings, labelConstants, false, true);          // (1, B, L)
            // PyTorch: loss = F.cross_entropy(cos / temperature, targets)
            Variable logits = Scale.apply(tape, cosines, 1 / settings.temperature());                // (1, B, L)
            return CrossEntropy.apply(tape, logits, targets);
        }

        @Override
        public long weight() {
            return targets.length;
        }

        @Override
        public long tokens() {
            return realTokens(texts);
        }
    }

    /** The share of held-out texts given their own label with {@code prompt} (P · dim values; null for none). */
    public Accuracy heldOutAccuracy(float[] prompt) {
        return accuracy(data.eval(), prompt);
    }

    /**
     * How many of {@code examples} are nearest their own label with {@code prompt} ((P, dim) row-major, or null for
     * no prompt), forward only.
     *
     * @throws IllegalArgumentException if an example's label is not one of {@link #labels()}
     */
    public Accuracy accuracy(List<LabelledText> examples, float[] prompt) {
        int dim = width();
        Backend backend = backend();
        int[] predicted = new int[examples.size()];
        int correct = 0;
        try (Scope scope = new Scope(backend, "classify prompt");
             Workspace workspace = new Workspace(backend, "accuracy")) {
            Tensor promptValues = null;
            if (prompt != null) {
                if (prompt.length == 0 || prompt.length % dim != 0) {
                    throw new IllegalArgumentException("a prompt for " + modelName() + " has a multiple of " + dim
                            + " values, got " + prompt.length);
                }
                promptValues = scope.of(prompt, prompt.length / dim, dim);
            }
            Tape tape = new Tape(backend, workspace);
            int promptRows = prompt == null ? 0 : prompt.length / dim;
            for (int from = 0; from < examples.size(); from += FORWARD_BATCH) {
                List<LabelledText> chunk = examples.subList(from, Math.min(examples.size(), from + FORWARD_BATCH));
                tape.reset();
                EncoderBatch batch = encoder.batch(chunk.stream().map(LabelledText::text).toList(), promptRows);
                Variable p = promptValues == null ? null : tape.constant(promptValues, "prompt_embeddings");
                float[] embeddings = backend.download(unitEmbeddings(tape, batch, p).value());   // (B, dim)
                for (int i = 0; i < chunk.size(); i++) {
                    Integer own = labelIndex.get(chunk.get(i).label());
                    if (own == null) {
                        throw new IllegalArgumentException("label '" + chunk.get(i).label() + "' is not one of the"
                                + " objective's labels " + labels);
                    }
                    int best = nearestLabel(embeddings, i * dim);
                    predicted[from + i] = best;
                    if (best == own) correct++;
                }
            }
            tape.reset();
        }
        return new Accuracy(correct, examples.size(), predicted);
    }

    /** The label of highest cosine with the unit row at {@code offset}. */
    private int nearestLabel(float[] embeddings, int offset) {
        int dim = width(), best = 0;
        double bestCosine = Double.NEGATIVE_INFINITY;
        for (int l = 0; l < labels.size(); l++) {
            double cosine = 0;
            for (int d = 0; d < dim; d++) cosine += (double) embeddings[offset + d] * labelEmbeddings[l * dim + d];
            if (cosine > bestCosine) {
                bestCosine = cosine;
                best = l;
            }
        }
        return best;
    }
}
