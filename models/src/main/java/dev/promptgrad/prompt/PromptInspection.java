package dev.promptgrad.prompt;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * What a soft prompt's rows look like from the vocabulary's side: for each virtual token, the vocabulary tokens
 * whose embeddings are nearest by cosine similarity, and its L2 norm against the norms of the embedding table's
 * rows. Khashabi et al. (2022, "Prompt Waywardness") found that learned prompts sit far from every token: the
 * mean of the best cosines is low, so nearest tokens rarely explain a prompt. Reads the table in row blocks on
 * the host, in double; it does not change anything.
 */
public final class PromptInspection {

    /** Table rows downloaded at a time. */
    private static final int BLOCK_ROWS = 4096;

    private PromptInspection() {
    }

    /** A vocabulary token and its cosine similarity to a virtual token. */
    public record Neighbour(int id, double cosine) {
    }

    /**
     * One virtual token.
     *
     * @param normPercentile the share of table rows (in percent) whose norm is at most this row's
     * @param nearest        the most similar tokens, best first
     */
    public record VirtualToken(int index, double norm, double normPercentile, List<Neighbour> nearest) {
    }

    /** The L2 norms of the embedding table's rows: quantiles interpolated linearly, as numpy's default. */
    public record NormStatistics(double min, double median, double p99, double max) {
    }

    /** @param meanMaxCosine the mean over virtual tokens of their best cosine similarity */
    public record Report(List<VirtualToken> tokens, NormStatistics tableNorms, double meanMaxCosine) {
    }

    /**
     * Inspects {@code prompt} (rows, width) against {@code table} (vocab, width) on {@code backend}.
     *
     * @param top how many nearest tokens to keep per virtual token
     */
    public static Report inspect(float[] prompt, int rows, int width, Backend backend, Tensor table, int top) {
        if (table.rank() != 2 || table.dim(1) != width) {
            throw new IllegalArgumentException("the prompt is " + width + " wide but the embedding table is " + table
                    + "; the prompt was made for another model");
        }
        if (prompt.length != (long) rows * width) {
            throw new IllegalArgumentException(rows + " × " + width + " prompt with " + prompt.length + " values");
        }
        if (top < 1) throw new IllegalArgumentException("the number of nearest tokens must be at least 1, got " + top);
        int vocab = table.dim(0);
        double[] promptNorms = new double[rows];
        for (int r = 0; r < rows; r++) promptNorms[r] = norm(prompt, r * width, width);
        double[] tableNorms = new double[vocab];
        double[][] cosines = new double[rows][vocab];   // (rows, vocab)
        for (int from = 0; from < vocab; from += BLOCK_ROWS) {
            int to = Math.min(vocab, from + BLOCK_ROWS);
            float[] block = backend.download(table.slice(from, to));                         // (to − from, width)
            for (int v = from; v < to; v++) {
                int at = (v - from) * width;
                tableNorms[v] = norm(block, at, width);
                for (int r = 0; r < rows; r++) {
                    double dot = 0;
                    for (int c = 0; c < width; c++) dot += (double) prompt[r * width + c] * block[at + c];
                    double denominator = promptNorms[r] * tableNorms[v];
                    // PyTorch: F.cosine_similarity(prompt[r], table[v], dim=0)
                    cosines[r][v] = denominator == 0 ? 0 : dot / denominator;
                }
            }
        }
        double[] sorted = tableNorms.clone();
        Arrays.sort(sorted);
        List<VirtualToken> tokens = new ArrayList<>();
        double bestSum = 0;
        for (int r = 0; r < rows; r++) {
            double[] row = cosines[r];
            List<Neighbour> nearest = IntStream.range(0, vocab).boxed()
                    .sorted(Comparator.comparingDouble((Integer v) -> -row[v]).thenComparingInt(v -> v))
                    .limit(Math.min(top, vocab)).map(v -> new Neighbour(v, row[v])).toList();
            bestSum += nearest.get(0).cosine();
            tokens.add(new VirtualToken(r, promptNorms[r], percentile(sorted, promptNorms[r]), nearest));
        }
        NormStatistics stats = new NormStatistics(sorted[0], quantile(sorted, 0.5), quantile(sorted, 0.99),
                sorted[vocab - 1]);
        return new Report(tokens, stats, bestSum / rows);
    }

    private static double norm(float[] values, int at, int width) {
        double squares = 0;
        for (int c = 0; c < width; c++) squares += (double) values[at + c] * values[at + c];
        return Math.sqrt(squares);
    }

    /** numpy.quantile's default (linear): the value at fractional index q · (n − 1) of the sorted values. */
    static double quantile(double[] sorted, double q) {
        double index = q * (sorted.length - 1);
        int below = (int) Math.floor(index);
        int above = Math.min(sorted.length - 1, below + 1);
        return sorted[below] + (index - below) * (sorted[above] - sorted[below]);
    }

    /** scipy's percentileofscore(kind="weak"): the percentage of values at most {@code value}. */
    static double percentile(double[] sorted, double value) {
        int count = 0;
        while (count < sorted.length && sorted[count] <= value) count++;
        return 100.0 * count / sorted.length;
    }
}
