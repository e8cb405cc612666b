package dev.promptgrad.hard;

import dev.promptgrad.data.Example;
import dev.promptgrad.evaluate.SequenceScorer;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;

import java.util.List;

/**
 * Soft → hard: every row of a trained soft prompt becomes its nearest allowed token (PEZ's projection), and the
 * loss without a prompt, with the soft prompt, with the tokens as a hard prompt (after BOS) and with their
 * embeddings in the soft prompt's place shows how much of the gain survives. Computes numbers; writes nothing.
 */
public final class SoftPromptDiscretization {

    private SoftPromptDiscretization() {
    }

    /**
     * @param ids       the nearest allowed token of each soft-prompt row
     * @param cosines   each row's cosine similarity to its token's embedding
     * @param noPrompt  mean loss without a prompt
     * @param soft      with the soft prompt
     * @param hard      with {@code ids} as a hard prompt
     * @param inPlace   with {@code ids}' embeddings where the soft prompt's rows were
     */
    public record Report(int[] ids, double[] cosines, double noPrompt, double soft, double hard, double inPlace) {
        public Report {
            ids = ids.clone();
            cosines = cosines.clone();
        }

        @Override
        public int[] ids() {
            return ids.clone();
        }

        @Override
        public double[] cosines() {
            return cosines.clone();
        }

        /** The share of the soft prompt's gain the hard prompt keeps: (none − hard) / (none − soft). */
        public double keptGain() {
            return (noPrompt - hard) / (noPrompt - soft);
        }

        /** The same for the tokens in the soft prompt's place. */
        public double keptGainInPlace() {
            return (noPrompt - inPlace) / (noPrompt - soft);
        }
    }

    /**
     * Discretizes {@code soft} (rows, dim) and evaluates it on {@code examples}.
     *
     * @param batchSize sequences per forward pass of the soft-prompt scoring
     */
    public static Report run(VocabularyIndex index, PromptObjective objective, float[] soft, int rows,
                             List<Example> examples, int padId, int batchSize) {
        LanguageModel model = objective.model();
        if (rows < 1 || soft.length != (long) rows * model.dim()) {
            throw new IllegalArgumentException("a soft prompt of " + rows + " rows for " + model.name() + " needs "
                    + (long) rows * model.dim() + " values, got " + soft.length);
        }
        int[] ids = index.nearest(soft, rows);
        float[] tokens = index.embeddings(ids);                                                 // (rows, dim)
        double[] cosines = new double[rows];
        for (int r = 0; r < rows; r++) cosines[r] = cosine(soft, tokens, r * model.dim(), model.dim());
        double noPrompt = objective.loss(new int[0], examples);
        double hard = objective.loss(ids, examples);
        try (Scope scope = new Scope(model.backend(), "discretized prompts")) {
            double softLoss = softLoss(model, scope.of(soft, rows, model.dim()), examples, padId, batchSize);
            double inPlace = softLoss(model, scope.of(tokens, rows, model.dim()), examples, padId, batchSize);
            return new Report(ids, cosines, noPrompt, softLoss, hard, inPlace);
        }
    }

    private static double softLoss(LanguageModel model, Tensor prompt, List<Example> examples, int padId, int batchSize) {
        double nll = 0;
        long tokens = 0;
        try (SequenceScorer scorer = new SequenceScorer(model, prompt, padId)) {
            for (SequenceScorer.Score score : scorer.score(examples, batchSize)) {
                nll += score.negativeLogLikelihood();
                tokens += score.tokens();
            }
        }
        if (tokens == 0) throw new IllegalArgumentException("no token of the examples is labelled; there is no loss");
        return nll / tokens;
    }

    private static double cosine(float[] a, float[] b, int at, int width) {
        double dot = 0, aa = 0, bb = 0;
        for (int c = 0; c < width; c++) {
            dot += (double) a[at + c] * b[at + c];
            aa += (double) a[at + c] * a[at + c];
            bb += (double) b[at + c] * b[at + c];
        }
        return aa == 0 || bb == 0 ? 0 : dot / Math.sqrt(aa * bb);
    }
}
