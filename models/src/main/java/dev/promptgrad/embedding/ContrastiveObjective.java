package dev.promptgrad.embedding;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.ops.MatMul;
import dev.promptgrad.ops.Reshape;
import dev.promptgrad.ops.Scale;
import dev.promptgrad.ops.Select;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingObjective;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code --objective contrastive}: sentence-transformers' MultipleNegativesRankingLoss with a soft prompt. In a batch
 * of B (query, positive) pairs, query i should be nearer positive i than the batch's other B − 1 positives: the loss
 * is the mean cross-entropy of softmax(cos(query_i, positive_j)/τ) over j at j = i. Both sides are encoded with the
 * prompt, in one forward pass of 2B rows. The negatives come from the same micro-batch only. See docs/encoders.md.
 */
public final class ContrastiveObjective extends EncoderObjective {
    private final EncoderData<TextPair> data;

    public ContrastiveObjective(Encoder encoder, EncoderData<TextPair> data, TrainingConfig.Objective settings) {
        super(encoder, settings, TrainingConfig.Objective.Kind.CONTRASTIVE);
        this.data = data;
    }

    public EncoderData<TextPair> data() {
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
        return data.description();
    }

    /** SHA-256 over each training then held-out pair's query and positive token ids. */
    @Override
    public String dataFingerprint() {
        List<int[]> sequences = new ArrayList<>();
        for (List<TextPair> set : List.of(data.train(), data.eval())) {
            sequences.add(new int[] {set.size()});
            for (TextPair pair : set) {
                sequences.add(encoder.tokenizer().encodeForModel(pair.query()));
                sequences.add(encoder.tokenizer().encodeForModel(pair.positive()));
            }
        }
        return sha256(sequences);
    }

    @Override
    public TrainingObjective.Batch trainBatch(int[] indices, int promptRows) {
        List<TextPair> pairs = new ArrayList<>(indices.length);
        for (int i : indices) pairs.add(data.train().get(i));
        return batch(pairs, promptRows);
    }

    @Override
    public TrainingObjective.Batch evalBatch(int from, int to, int promptRows) {
        return batch(data.eval().subList(from, to), promptRows);
    }

    /** The pairs as one batch of 2B texts: the B queries, then the B positives. */
    Batch batch(List<TextPair> pairs, int promptRows) {
        List<String> texts = new ArrayList<>(2 * pairs.size());
        for (TextPair pair : pairs) texts.add(pair.query());
        for (TextPair pair : pairs) texts.add(pair.positive());
        return new Batch(encoder.batch(texts, promptRows), pairs.size());
    }

    /** B pairs encoded as 2B rows (queries first). */
    final class Batch implements TrainingObjective.Batch {
        private final EncoderBatch texts;
        private final int pairs;

        Batch(EncoderBatch texts, int pairs) {
            this.texts = texts;
            this.pairs = pairs;
        }

        /** Mean over i of −log softmax_j(cos(query_i, positive_j)/τ)[i]. */
        @Override
        public Variable loss(Tape tape, Variable prompt) {
            int dim = width();
            Variable both = Reshape.apply(tape, unitEmbeddings(tape, texts, prompt), 2, pairs, dim);  // (2, B, dim)
            Variable queries = Reshape.apply(tape, Select.apply(tape, both, 0), 1, pairs, dim);        // (1, B, dim)
            Variable positives = Reshape.apply(tape, Select.apply(tape, both, 1), 1, pairs, dim);      // (1, B, dim)
            // PyTorch (sentence-transformers): scores = util.cos_sim(queries, positives) * scale
            Variable cosines = MatMul.apply(tape, queries, positives, false, true);                    // (1, B, B)
            Variable scores = Scale.apply(tape, cosines, 1 / settings.temperature());
            int[] targets = new int[pairs];
            for (int i = 0; i < pairs; i++) targets[i] = i;
            // PyTorch: loss = F.cross_entropy(scores, torch.arange(len(scores)))
            return CrossEntropy.apply(tape, scores, targets);
        }

        @Override
        public long weight() {
            return pairs;
        }

        @Override
        public long tokens() {
            return realTokens(texts);
        }
    }
}
