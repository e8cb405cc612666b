package dev.promptgrad.prompt;

import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

/**
 * How a new soft prompt starts, PEFT's {@code prompt_tuning_init} choices written as one string:
 * {@code random:SEED:N} (N rows of standard normal values, as PEFT's RANDOM, whose {@code nn.Embedding} starts at
 * N(0, 1)), {@code vocab:SEED:N} (the embeddings of N token ids drawn uniformly with replacement, as PEFT's
 * SAMPLE_VOCAB) and {@code text:TEXT} (the embeddings of TEXT's tokens, no BOS, one row per token, as PEFT's
 * TEXT without repeating or cutting). Two more are made in code, for training: {@link TextRepeated} (PEFT's
 * TEXT exactly: special tokens, cut or repeated to N rows) and {@link ClassLabels} (Lester et al.'s class-label
 * init). The random draws use {@link Random} with the seed, whose algorithm Java specifies, so a seed gives the
 * same prompt on every JVM; they are not torch's numbers.
 */
public sealed interface PromptInit {

    /** A prompt's first values. */
    record Initial(int tokens, int width, float[] values, int[] sourceIds) {
        /**
         * @param values    (tokens, width) row-major
         * @param sourceIds the token id each row was copied from; empty for random or averaged rows
         */
        public Initial {
            if (values.length != (long) tokens * width) {
                throw new IllegalArgumentException(tokens + " × " + width + " prompt with " + values.length + " values");
            }
        }
    }

    /** {@code random:SEED:N}. */
    record RandomNormal(long seed, int tokens) implements PromptInit {
        @Override
        public Initial initialise(int width, int vocabSize, Tokenizer tokenizer, IntFunction<float[]> embeddingRow) {
            Random random = new Random(seed);
            float[] values = new float[Math.multiplyExact(tokens, width)];
            for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
            return new Initial(tokens, width, values, new int[0]);
        }
    }

    /** {@code vocab:SEED:N}. */
    record SampledVocab(long seed, int tokens) implements PromptInit {
        @Override
        public Initial initialise(int width, int vocabSize, Tokenizer tokenizer, IntFunction<float[]> embeddingRow) {
            Random random = new Random(seed);
            int[] ids = new int[tokens];
            for (int i = 0; i < tokens; i++) ids[i] = random.nextInt(vocabSize);
            return copyRows(ids, width, embeddingRow);
        }
    }

    /** {@code text:TEXT}. */
    record FromText(String text) implements PromptInit {
        @Override
        public Initial initialise(int width, int vocabSize, Tokenizer tokenizer, IntFunction<float[]> embeddingRow) {
            int[] ids = encode(text, tokenizer, vocabSize);
            if (ids.length == 0) throw new IllegalArgumentException("prompt init 'text:" + text + "' has no tokens");
            return copyRows(ids, width, embeddingRow);
        }
    }

    /**
     * PEFT's TEXT init for N virtual tokens: the ids {@code tokenizer(text)["input_ids"]} gives (the text's
     * tokens with the special tokens the tokenizer adds, e.g. Llama's BOS), cut to the first N if longer,
     * repeated ({@code ids * ceil(N / len)}) and cut to N if shorter; row i is the embedding of id i.
     *
     * @param specials what the tokenizer puts around a text ({@link BosEosRule#NONE} for none)
     */
    record TextRepeated(String text, int tokens, BosEosRule specials) implements PromptInit {
        public TextRepeated {
            if (tokens < 1) throw new IllegalArgumentException("a prompt needs at least 1 row, got " + tokens);
        }

        @Override
        public Initial initialise(int width, int vocabSize, Tokenizer tokenizer, IntFunction<float[]> embeddingRow) {
            int[] ids = specials.wrap(encode(text, tokenizer, vocabSize));
            if (ids.length == 0) throw new IllegalArgumentException("prompt init 'text:" + text + "' has no tokens");
            int[] rows = new int[tokens];
            // init_token_ids = (init_token_ids * num_reps)[:total_virtual_tokens]
            for (int i = 0; i < tokens; i++) rows[i] = ids[i % ids.length];
            for (int id : rows) {
                if (id >= vocabSize) {
                    throw new IllegalArgumentException("prompt init 'text:" + text + "': special token " + id
                            + " is outside the model's vocabulary [0, " + vocabSize + ")");
                }
            }
            return copyRows(rows, width, embeddingRow);
        }
    }

    /**
     * Lester et al. 2021's class-label init: row i (i &lt; number of labels) is the mean of the embeddings of
     * label i's tokens (one token: its embedding), summed in double and rounded once; the rows after the last
     * label are the embeddings of ids drawn as {@link SampledVocab} draws them with {@code seed}.
     *
     * @param labels each label's token ids, at least one id each, at most {@code tokens} labels
     */
    record ClassLabels(List<int[]> labels, long seed, int tokens) implements PromptInit {
        public ClassLabels {
            if (labels.isEmpty()) {
                throw new IllegalArgumentException("the labels init needs at least one label; the data has no labelled"
                        + " output");
            }
            if (labels.size() > tokens) {
                throw new IllegalArgumentException("the labels init found " + labels.size() + " distinct labels, more"
                        + " than the prompt's " + tokens + " rows; it is meant for classification data with few"
                        + " distinct outputs; give at least " + labels.size() + " virtual tokens or another init");
            }
            labels = labels.stream().map(int[]::clone).toList();
            for (int[] label : labels) {
                if (label.length == 0) throw new IllegalArgumentException("a class label needs at least one token");
            }
        }

        @Override
        public Initial initialise(int width, int vocabSize, Tokenizer tokenizer, IntFunction<float[]> embeddingRow) {
            float[] values = new float[Math.multiplyExact(tokens, width)];
            for (int row = 0; row < labels.size(); row++) {
                double[] sum = new double[width];
                for (int id : labels.get(row)) {
                    if (id < 0 || id >= vocabSize) {
                        throw new IllegalArgumentException("label token " + id + " is outside the model's"
                                + " vocabulary [0, " + vocabSize + ")");
                    }
                    float[] embedding = embeddingRow.apply(id);
                    for (int d = 0; d < width; d++) sum[d] += embedding[d];
                }
                for (int d = 0; d < width; d++) values[row * width + d] = (float) (sum[d] / labels.get(row).length);
            }
            int sampled = tokens - labels.size();
            if (sampled > 0) {
                PromptInit rows = new SampledVocab(seed, sampled);
                float[] rest = rows.initialise(width, vocabSize, tokenizer, embeddingRow).values();
                System.arraycopy(rest, 0, values, labels.size() * width, rest.length);
            }
            return new Initial(tokens, width, values, new int[0]);
        }
    }

    /**
     * The first values of a prompt {@code width} wide.
     *
     * @param tokenizer    encodes {@code text:}; may be null for the other kinds
     * @param embeddingRow the model's embedding of one token id, {@code width} values
     */
    Initial initialise(int width, int vocabSize, Tokenizer tokenizer, IntFunction<float[]> embeddingRow);

    /**
     * Reads {@code random:SEED:N}, {@code vocab:SEED:N} or {@code text:TEXT}.
     *
     * @throws IllegalArgumentException saying which forms exist
     */
    static PromptInit parse(String spec) {
        if (spec.startsWith("text:")) return new FromText(spec.substring("text:".length()));
        String[] parts = spec.split(":", -1);
        if (parts.length == 3 && (parts[0].equals("random") || parts[0].equals("vocab"))) {
            long seed;
            int tokens;
            try {
                seed = Long.parseLong(parts[1]);
                tokens = Integer.parseInt(parts[2]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("prompt init '" + spec + "': SEED must be an integer and N a positive"
                        + " integer, as in " + parts[0] + ":0:20");
            }
            if (tokens < 1) throw new IllegalArgumentException("prompt init '" + spec + "': N must be at least 1, got " + tokens);
            return parts[0].equals("random") ? new RandomNormal(seed, tokens) : new SampledVocab(seed, tokens);
        }
        throw new IllegalArgumentException("prompt init '" + spec + "' is not one of random:SEED:N, vocab:SEED:N, text:TEXT");
    }

    /** TEXT's tokens (no special tokens), each checked against the vocabulary. */
    private static int[] encode(String text, Tokenizer tokenizer, int vocabSize) {
        if (tokenizer == null) {
            throw new IllegalArgumentException("prompt init 'text:" + text + "' needs a tokenizer to encode its text,"
                    + " and none was given; use random:SEED:N or vocab:SEED:N, or give a tokenizer");
        }
        int[] ids = tokenizer.encode(text);
        for (int id : ids) {
            if (id >= vocabSize) {
                throw new IllegalArgumentException("prompt init 'text:" + text + "': the tokenizer gives id " + id
                        + ", outside the model's vocabulary [0, " + vocabSize + ")");
            }
        }
        return ids;
    }

    private static Initial copyRows(int[] ids, int width, IntFunction<float[]> embeddingRow) {
        float[] values = new float[Math.multiplyExact(ids.length, width)];
        for (int i = 0; i < ids.length; i++) {
            float[] row = embeddingRow.apply(ids[i]);
            if (row.length != width) {
                throw new IllegalStateException("embedding row of token " + ids[i] + " has " + row.length + " values, not " + width);
            }
            System.arraycopy(row, 0, values, i * width, width);
        }
        return new Initial(ids.length, width, values, Arrays.copyOf(ids, ids.length));
    }
}
