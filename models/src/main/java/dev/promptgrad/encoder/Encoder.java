package dev.promptgrad.encoder;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.tokenizer.WordPieceTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A sentence encoder ready to use: a {@link BertModel} with the {@link WordPieceTokenizer} it was trained with.
 * It turns texts into padded batches for {@link BertModel#forward} and, without a prompt, into embeddings. Load one
 * by name or path through {@link EncoderCatalog}; closing it frees the model's weights. {@link #embed} may be
 * called from several threads at once: each call has its own workspace and tape, and the weights are read-only.
 */
public final class Encoder implements AutoCloseable {
    private final BertModel model;
    private final WordPieceTokenizer tokenizer;

    public Encoder(BertModel model, WordPieceTokenizer tokenizer) {
        if (tokenizer.vocabSize() > model.config().vocabSize()) {
            throw new EncoderFormatException("tokenizer " + tokenizer.name() + " has " + tokenizer.vocabSize()
                    + " ids but model " + model.name() + " embeds only " + model.config().vocabSize());
        }
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /** "minilm", a BERT folder, or an .onnx file with tokenizer.json beside it: see {@link EncoderCatalog}. */
    public static Encoder load(String nameOrPath, Backend backend) {
        return EncoderCatalog.load(nameOrPath, backend);
    }

    public BertModel model() {
        return model;
    }

    public WordPieceTokenizer tokenizer() {
        return tokenizer;
    }

    /** {@link #batch(List, int)} without a prompt. */
    public EncoderBatch batch(List<String> texts) {
        return batch(texts, 0);
    }

    /**
     * Tokenizes each text as the model expects ([CLS] … [SEP]), truncated to the tokenizer's max length and so that
     * {@code promptLength} prompt rows still fit in max_position_embeddings, then pads on the right.
     */
    public EncoderBatch batch(List<String> texts, int promptLength) {
        int room = model.config().maxPositions() - promptLength;
        int maxTokens = Math.min(room, tokenizer.maxLength().orElse(Integer.MAX_VALUE));
        if (maxTokens < 2) {
            throw new IllegalArgumentException(promptLength + " prompt rows leave no room for [CLS] and [SEP] in the "
                    + model.config().maxPositions() + " positions of " + model.name());
        }
        List<int[]> ids = new ArrayList<>(texts.size());
        for (String text : texts) ids.add(tokenizer.encodeForModel(text, maxTokens));
        return EncoderBatch.of(ids, tokenizer.pad().orElse(0));
    }

    /** The sentence embeddings of {@code texts}, [texts.size()][dim], as the model's pooling makes them. */
    public float[][] embed(List<String> texts) {
        Backend backend = model.weights().backend();
        try (Workspace workspace = new Workspace(backend, "embed " + texts.size() + " texts")) {
            Tape tape = new Tape(backend, workspace);
            float[] pooled = backend.download(model.forward(tape, batch(texts)).pooled().value());
            int dim = model.config().hiddenSize();
            float[][] out = new float[texts.size()][];
            for (int i = 0; i < out.length; i++) out[i] = Arrays.copyOfRange(pooled, i * dim, (i + 1) * dim);
            return out;
        }
    }

    @Override
    public void close() {
        model.close();
    }

    @Override
    public String toString() {
        return "Encoder(" + model + ", " + tokenizer.name() + ")";
    }
}
