package dev.promptgrad.evaluate;

import dev.promptgrad.data.Example;
import dev.promptgrad.generate.BatchGenerator;
import dev.promptgrad.generate.BatchRequest;
import dev.promptgrad.generate.Generation;
import dev.promptgrad.generate.GenerationSettings;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * How well a frozen model does on a data set with one soft prompt (or none): the mean next-token loss over the
 * labelled tokens and its perplexity; for {"input", "output"} pairs, the exact-match accuracy of greedy
 * generations; and, when the outputs form a small label set, the label accuracy of the verbalizer method
 * (Lester et al. 2021): the label whose tokens have the highest summed log-probability after the input wins.
 * It computes numbers only; printing them is the command line's.
 */
public final class PromptEvaluation {

    /** The most distinct outputs that still count as a label set. */
    public static final int MAX_LABELS = 20;

    private PromptEvaluation() {
    }

    /**
     * One {"input", "output"} line, tokenized.
     *
     * @param inputIds  the tokens the model reads (with the tokenizer's BOS, if it adds one)
     * @param output    the expected text
     * @param outputIds the output's tokens and the tokenizer's EOS (if it has one), as training labels them
     */
    public record Pair(int[] inputIds, String output, int[] outputIds) {
        public Pair {
            inputIds = inputIds.clone();
            outputIds = outputIds.clone();
        }

        @Override
        public int[] inputIds() {
            return inputIds.clone();
        }

        @Override
        public int[] outputIds() {
            return outputIds.clone();
        }
    }

    /**
     * The numbers; the pair metrics are null when there are no pairs, the label metrics when the outputs are
     * not a set of 2 … {@value #MAX_LABELS} distinct texts.
     *
     * @param loss          mean −log p over the labelled tokens (nats)
     * @param exactMatch    share of pairs whose greedy continuation, decoded and trimmed, equals the output trimmed
     *                      (a continuation holding an id the tokenizer does not know never matches)
     * @param labels        the distinct outputs, sorted
     * @param labelAccuracy share of pairs whose most likely label is their own output
     */
    public record Report(int examples, int labelledTokens, double loss, double perplexity, Integer pairs,
                         Double exactMatch, List<String> labels, Double labelAccuracy) {
    }

    /**
     * Evaluates {@code prompt} (null: none) on {@code examples} (the loss) and {@code pairs} (the accuracies).
     *
     * @param stopTokens ids that end a generation (EOS)
     * @param batchSize  sequences per forward pass
     */
    public static Report run(LanguageModel model, Tensor prompt, List<Example> examples, List<Pair> pairs,
                             Tokenizer tokenizer, int[] stopTokens, int padId, int batchSize) {
        double nll = 0;
        int tokens = 0;
        try (SequenceScorer scorer = new SequenceScorer(model, prompt, padId)) {
            for (SequenceScorer.Score score : scorer.score(examples, batchSize)) {
                nll += score.negativeLogLikelihood();
                tokens += score.tokens();
            }
            if (tokens == 0) {
                throw new IllegalArgumentException("no token of the data is labelled" + (prompt == null
                        ? " (without a prompt the first token of a sequence is never scored)" : "")
                        + "; there is no loss to report");
            }
            double loss = nll / tokens;
            if (pairs.isEmpty()) return new Report(examples.size(), tokens, loss, Math.exp(loss), null, null, null, null);
            double exactMatch = exactMatch(model, prompt, pairs, tokenizer, stopTokens, batchSize);
            List<String> labels = pairs.stream().map(Pair::output).distinct().sorted().toList();
            Double labelAccuracy = null;
            if (labels.size() >= 2 && labels.size() <= MAX_LABELS) {
                labelAccuracy = labelAccuracy(scorer, pairs, batchSize);
            } else {
                labels = null;
            }
            return new Report(examples.size(), tokens, loss, Math.exp(loss), pairs.size(), exactMatch, labels,
                    labelAccuracy);
        }
    }

    private static double exactMatch(LanguageModel model, Tensor prompt, List<Pair> pairs, Tokenizer tokenizer,
                                     int[] stopTokens, int batchSize) {
        int matches = 0;
        for (int from = 0; from < pairs.size(); from += batchSize) {
            List<Pair> chunk = pairs.subList(from, Math.min(pairs.size(), from + batchSize));
            List<BatchRequest> requests = new ArrayList<>();
            for (Pair pair : chunk) {
                // the output's tokens, and one more for the EOS that should end it
                int limit = Math.max(1, pair.outputIds.length + 1);
                int room = model.contextLength() - pair.inputIds.length - (prompt == null ? 0 : prompt.dim(0));
                requests.add(new BatchRequest(prompt, pair.inputIds, GenerationSettings.greedy(
                        Math.max(1, Math.min(limit, room)), stopTokens)));
            }
            List<Generation> generations = BatchGenerator.generate(model, requests);
            for (int i = 0; i < chunk.size(); i++) {
                int[] ids = generations.get(i).tokens();
                // an id the tokenizer does not know (a model vocabulary padded past it) has no text: no match
                if (Arrays.stream(ids).anyMatch(id -> id >= tokenizer.vocabSize())) continue;
                if (tokenizer.decode(ids, true).strip().equals(chunk.get(i).output.strip())) matches++;
            }
        }
        return (double) matches / pairs.size();
    }

    /** Scores every (input, label) combination; a pair is right when its own label has the least NLL. */
    private static double labelAccuracy(SequenceScorer scorer, List<Pair> pairs, int batchSize) {
        TreeMap<String, int[]> labelIds = new TreeMap<>();   // label text → its tokens (and EOS)
        for (Pair pair : pairs) labelIds.putIfAbsent(pair.output, pair.outputIds);
        List<String> labels = new ArrayList<>(labelIds.keySet());
        List<Example> candidates = new ArrayList<>();   // (pairs, labels)
        for (Pair pair : pairs) {
            for (String label : labels) {
                int[] output = labelIds.get(label);
                int[] ids = Arrays.copyOf(pair.inputIds, pair.inputIds.length + output.length);
                System.arraycopy(output, 0, ids, pair.inputIds.length, output.length);
                int[] scored = new int[ids.length];
                Arrays.fill(scored, 0, pair.inputIds.length, Example.IGNORE);
                System.arraycopy(output, 0, scored, pair.inputIds.length, output.length);
                candidates.add(new Example(ids, scored));
            }
        }
        SequenceScorer.Score[] scores = scorer.score(candidates, batchSize);
        int right = 0;
        for (int p = 0; p < pairs.size(); p++) {
            int best = 0;
            for (int l = 1; l < labels.size(); l++) {
                // PyTorch: pred = torch.argmax(torch.stack([logp[label].sum() for label in labels]))
                if (scores[p * labels.size() + l].negativeLogLikelihood()
                        < scores[p * labels.size() + best].negativeLogLikelihood()) {
                    best = l;
                }
            }
            if (labels.get(best).equals(pairs.get(p).output)) right++;
        }
        return (double) right / pairs.size();
    }
}
