package dev.promptgrad.encoder;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.ops.Activation;
import dev.promptgrad.ops.Add;
import dev.promptgrad.ops.Attention;
import dev.promptgrad.ops.BiasAdd;
import dev.promptgrad.ops.ConcatPrompt;
import dev.promptgrad.ops.Embedding;
import dev.promptgrad.ops.LayerNorm;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.ops.MatMul;
import dev.promptgrad.ops.Reshape;
import dev.promptgrad.ops.RmsNorm;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A frozen BERT encoder (Hugging Face BertModel) with sentence-transformers pooling, run on a {@link Tape}: token,
 * token-type and position embeddings and their LayerNorm, post-LayerNorm blocks with bidirectional attention under
 * a padding mask, then {@link Pooling} over the text tokens. An optional soft prompt [P, dim] joins the input
 * embeddings ({@link PromptPlacement}); the pooled embeddings are a {@link Variable}, so a loss on them backpropagates
 * to the prompt. The weights use Hugging Face's names whichever file they came from. Not a masked-LM head.
 */
public final class BertModel implements AutoCloseable {

    /** What {@link #forward} returns. */
    public record Encoding(Variable hidden, Variable pooled, int promptLength, int[] positions) {
        /**
         * @param hidden       last hidden states [batch, P + T, dim]; rows in memory order: the P prompt rows, then
         *                     the T text rows, whatever the placement
         * @param pooled       sentence embeddings [batch, dim]
         * @param promptLength P (0 without a prompt)
         * @param positions    the position id of each of the P + T rows, the same for every batch row
         */
        public Encoding {
            positions = positions.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }
    }

    /** One encoder block's weights; Linear weights are [out, in] (nn.Linear). */
    private record Layer(Tensor query, Tensor queryBias, Tensor key, Tensor keyBias, Tensor value, Tensor valueBias,
                         Tensor attentionOut, Tensor attentionOutBias, Tensor attentionNorm, Tensor attentionNormBias,
                         Tensor intermediate, Tensor intermediateBias, Tensor output, Tensor outputBias,
                         Tensor outputNorm, Tensor outputNormBias) {
    }

    private final String name;
    private final BertConfig config;
    private final Pooling pooling;
    private final Weights weights;
    private final Tensor wordEmbeddings;      // (vocab, dim)
    private final Tensor positionEmbeddings;  // (maxPositions, dim)
    private final Tensor typeEmbeddings;      // (typeVocab, dim)
    private final Tensor embeddingNorm;       // (dim)
    private final Tensor embeddingNormBias;   // (dim)
    private final Layer[] layers;

    /**
     * Wraps weights already loaded under Hugging Face's BertModel names ({@link #expectedShapes}); the model owns
     * them from here and closes them with itself.
     */
    BertModel(String name, BertConfig config, Pooling pooling, Weights weights) {
        this.name = name;
        this.config = config;
        this.pooling = pooling;
        this.weights = weights;
        Map<String, int[]> expected = expectedShapes(config);
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            if (!weights.contains(e.getKey())) {
                throw new EncoderFormatException(name + ": BERT weight '" + e.getKey() + "' "
                        + Arrays.toString(e.getValue()) + " is missing");
            }
            int[] shape = weights.get(e.getKey()).shape();
            if (!Arrays.equals(shape, e.getValue())) {
                throw new EncoderFormatException(name + ": BERT weight '" + e.getKey() + "' is "
                        + Arrays.toString(shape) + " but the config asks for " + Arrays.toString(e.getValue()));
            }
        }
        wordEmbeddings = weights.get("embeddings.word_embeddings.weight");
        positionEmbeddings = weights.get("embeddings.position_embeddings.weight");
        typeEmbeddings = weights.get("embeddings.token_type_embeddings.weight");
        embeddingNorm = weights.get("embeddings.LayerNorm.weight");
        embeddingNormBias = weights.get("embeddings.LayerNorm.bias");
        layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "encoder.layer." + l + ".";
            layers[l] = new Layer(
                    weights.get(p + "attention.self.query.weight"), weights.get(p + "attention.self.query.bias"),
                    weights.get(p + "attention.self.key.weight"), weights.get(p + "attention.self.key.bias"),
                    weights.get(p + "attention.self.value.weight"), weights.get(p + "attention.self.value.bias"),
                    weights.get(p + "attention.output.dense.weight"), weights.get(p + "attention.output.dense.bias"),
                    weights.get(p + "attention.output.LayerNorm.weight"),
                    weights.get(p + "attention.output.LayerNorm.bias"),
                    weights.get(p + "intermediate.dense.weight"), weights.get(p + "intermediate.dense.bias"),
                    weights.get(p + "output.dense.weight"), weights.get(p + "output.dense.bias"),
                    weights.get(p + "output.LayerNorm.weight"), weights.get(p + "output.LayerNorm.bias"));
        }
    }

    /**
     * Returns {@code values} when every one is finite; a NaN or infinite weight can only come from a corrupt or
     * crafted file, so the loaders refuse it with an EncoderFormatException naming {@code source} and the tensor.
     */
    static float[] requireFinite(float[] values, Object source, String tensor) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new EncoderFormatException(source + ": tensor '" + tensor + "' holds " + values[i]
                        + " at element " + i + "; a model weight must be finite (the file is corrupt)");
            }
        }
        return values;
    }

    /** Every tensor the model reads, by Hugging Face BertModel name, with its shape ([out, in] for Linear weights). */
    public static Map<String, int[]> expectedShapes(BertConfig c) {
        int dim = c.hiddenSize();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        shapes.put("embeddings.word_embeddings.weight", new int[]{c.vocabSize(), dim});
        shapes.put("embeddings.position_embeddings.weight", new int[]{c.maxPositions(), dim});
        shapes.put("embeddings.token_type_embeddings.weight", new int[]{c.typeVocabSize(), dim});
        shapes.put("embeddings.LayerNorm.weight", new int[]{dim});
        shapes.put("embeddings.LayerNorm.bias", new int[]{dim});
        for (int l = 0; l < c.layers(); l++) {
            String p = "encoder.layer." + l + ".";
            for (String projection : new String[]{"attention.self.query", "attention.self.key", "attention.self.value",
                                                   "attention.output.dense"}) {
                shapes.put(p + projection + ".weight", new int[]{dim, dim});
                shapes.put(p + projection + ".bias", new int[]{dim});
            }
            shapes.put(p + "intermediate.dense.weight", new int[]{c.intermediateSize(), dim});
            shapes.put(p + "intermediate.dense.bias", new int[]{c.intermediateSize()});
            shapes.put(p + "output.dense.weight", new int[]{dim, c.intermediateSize()});
            shapes.put(p + "output.dense.bias", new int[]{dim});
            for (String norm : new String[]{"attention.output.LayerNorm", "output.LayerNorm"}) {
                shapes.put(p + norm + ".weight", new int[]{dim});
                shapes.put(p + norm + ".bias", new int[]{dim});
            }
        }
        return shapes;
    }

    /**
     * Loads a Hugging Face BERT folder (config.json, model.safetensors or its index, and for sentence-transformers
     * folders modules.json with 1_Pooling/config.json), or an ONNX file exported from one (mean pooling with L2
     * normalisation unless {@code pooling} says otherwise; null takes the folder's or that default).
     */
    public static BertModel load(Path path, Backend backend, Pooling pooling) {
        if (Files.isDirectory(path)) return HuggingFaceBertFolder.load(path, backend, pooling);
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".onnx")) {
            return OnnxBertGraph.load(path, backend, pooling == null ? Pooling.MEAN_NORMALIZED : pooling);
        }
        throw new EncoderFormatException(path + " is neither a model folder nor an .onnx file");
    }

    /** {@link #forward(Tape, EncoderBatch, Variable, PromptPlacement)} without a prompt. */
    public Encoding forward(Tape tape, EncoderBatch batch) {
        return forward(tape, batch, null, PromptPlacement.BEFORE_CLS);
    }

    /**
     * Encodes a batch, with the soft prompt {@code prompt} [P, dim] (a tape parameter, or null for none) placed as
     * {@code placement} says. The prompt rows are concatenated in front of the token embeddings in memory for both
     * placements: BERT attends without a causal mask, so the order of rows does not matter, only each row's
     * position id does, and {@link PromptPlacement#AFTER_CLS} is those ids ([CLS] 0, prompt 1 … P, text from P+1).
     *
     * @throws IllegalArgumentException if P + T exceeds max_position_embeddings, or the prompt is not [P, dim]
     */
    public Encoding forward(Tape tape, EncoderBatch batch, Variable prompt, PromptPlacement placement) {
        int dim = config.hiddenSize();
        Tensor promptRows = prompt == null ? null : prompt.value();                                 // (P, dim)
        if (promptRows != null && (promptRows.rank() != 2 || promptRows.dim(1) != dim || promptRows.dim(0) < 1)) {
            throw new IllegalArgumentException("prompt " + prompt + " must be [P, " + dim + "] for " + name);
        }
        int rows = batch.batch();
        int promptLength = promptRows == null ? 0 : promptRows.dim(0);
        int length = promptLength + batch.length();
        if (length > config.maxPositions()) {
            throw new IllegalArgumentException(promptLength + " prompt rows and " + batch.length() + " tokens make "
                    + length + " positions, more than the " + config.maxPositions()
                    + " max_position_embeddings of " + name + "; shorten the text or the prompt");
        }
        int[] positions = positions(promptLength, batch.length(), placement);
        Backend backend = tape.backend();

        // PyTorch (PEFT): inputs_embeds = torch.cat((prompt.expand(B, -1, -1), word_embeddings(input_ids)), dim=1)
        Variable words = Embedding.apply(tape, wordEmbeddings, batch.ids(), rows, batch.length());  // (B, T, dim)
        Variable inputs = prompt == null ? words : ConcatPrompt.apply(tape, prompt, words);        // (B, L, dim)
        int[] types = new int[rows * length];                                                       // prompt rows: 0
        int[] textTypes = batch.tokenTypes();
        for (int b = 0; b < rows; b++) {
            System.arraycopy(textTypes, b * batch.length(), types, b * length + promptLength, batch.length());
        }
        Tensor typeAndPosition = Embedding.apply(tape, typeEmbeddings, types, rows, length).value();  // (B, L, dim)
        Tensor position = Embedding.apply(tape, positionEmbeddings, positions, length).value();       // (L, dim)
        backend.add(typeAndPosition, position, typeAndPosition);   // position rows repeat over the batch
        // PyTorch (HF BertEmbeddings):
        //   embeddings = LayerNorm(inputs_embeds + token_type_embeddings + position_embeddings)
        Variable x = Add.apply(tape, inputs, tape.constant(typeAndPosition, "token type and position embeddings"));
        x = LayerNorm.apply(tape, x, embeddingNorm, embeddingNormBias, config.layerNormEps());

        float[] attend = new float[rows * length];                                                  // (B, L)
        int[] textMask = batch.mask();
        for (int b = 0; b < rows; b++) {
            Arrays.fill(attend, b * length, b * length + promptLength, 1f);
            for (int t = 0; t < batch.length(); t++) {
                attend[b * length + promptLength + t] = textMask[b * batch.length() + t];
            }
        }
        Tensor keyMask = tape.allocate(rows, length);
        backend.upload(attend, keyMask);
        for (Layer layer : layers) x = block(tape, layer, x, keyMask);

        Variable pooled = pool(tape, x, batch, promptLength);
        return new Encoding(x, pooled, promptLength, positions);
    }

    /** Position ids of the P + T rows in memory order (prompt rows first). */
    static int[] positions(int promptLength, int textLength, PromptPlacement placement) {
        int[] positions = new int[promptLength + textLength];
        for (int i = 0; i < positions.length; i++) positions[i] = i;
        if (placement == PromptPlacement.AFTER_CLS && promptLength > 0) {
            for (int p = 0; p < promptLength; p++) positions[p] = p + 1;
            positions[promptLength] = 0;
        }
        return positions;
    }

    /** One post-LayerNorm encoder block (HF BertLayer). */
    private Variable block(Tape tape, Layer l, Variable x, Tensor keyMask) {
        // PyTorch (HF BertSelfAttention): q, k, v = query(x), key(x), value(x)
        Variable q = BiasAdd.apply(tape, Linear.apply(tape, x, l.query, Linear.Layout.OUT_IN), l.queryBias);
        Variable k = BiasAdd.apply(tape, Linear.apply(tape, x, l.key, Linear.Layout.OUT_IN), l.keyBias);
        Variable v = BiasAdd.apply(tape, Linear.apply(tape, x, l.value, Linear.Layout.OUT_IN), l.valueBias);
        // context = softmax(q·kᵀ/√d + (1 − mask)·min) · v, no causal mask
        Variable context = Attention.apply(tape, q, k, v, config.heads(), config.heads(), false, keyMask, null);
        // PyTorch (HF BertSelfOutput): attended = LayerNorm(dense(context) + x)
        Variable projected = BiasAdd.apply(tape, Linear.apply(tape, context, l.attentionOut, Linear.Layout.OUT_IN),
                l.attentionOutBias);
        Variable attended = LayerNorm.apply(tape, Add.apply(tape, projected, x), l.attentionNorm, l.attentionNormBias,
                config.layerNormEps());
        // PyTorch (HF BertIntermediate): inner = gelu(dense(attended))
        Variable up = Linear.apply(tape, attended, l.intermediate, Linear.Layout.OUT_IN);
        Variable inner = Activation.apply(tape, config.activation(), BiasAdd.apply(tape, up, l.intermediateBias));
        // PyTorch (HF BertOutput): out = LayerNorm(dense(inner) + attended)
        Variable out = BiasAdd.apply(tape, Linear.apply(tape, inner, l.output, Linear.Layout.OUT_IN), l.outputBias);
        return LayerNorm.apply(tape, Add.apply(tape, out, attended), l.outputNorm, l.outputNormBias,
                config.layerNormEps());
    }

    /**
     * Pooling as one batched product: pooled[b] = w[b] · hidden[b] with w [B, 1, L] zero on prompt rows and padding,
     * so its backward is one GEMM. L2 normalisation is RMSNorm with weight 1/√dim: x·(1/√(Σx²/dim + ε))/√dim =
     * x/√(Σx² + dim·ε), and ε = 1e-24/dim keeps F.normalize's floor of 1e-12 on ‖x‖. Derivation:
     * docs/autograd.md#sentence-pooling-bert.
     */
    private Variable pool(Tape tape, Variable hidden, EncoderBatch batch, int promptLength) {
        int rows = batch.batch();
        int length = promptLength + batch.length();
        int dim = config.hiddenSize();
        float[] w = new float[rows * length];                                                               // (B, 1, L)
        int[] mask = batch.mask();
        for (int b = 0; b < rows; b++) {
            int count = batch.tokens(b);
            for (int t = 0; t < batch.length(); t++) {
                float m = mask[b * batch.length() + t];
                w[b * length + promptLength + t] = switch (pooling.mode()) {
                    // PyTorch (sentence-transformers): sum(h * mask) / clamp(mask.sum(), min=1e-9)
                    case MEAN -> m / count;
                    case MEAN_SQRT_LEN -> (float) (m / Math.sqrt(count));
                    // PyTorch: h[:, 0]  ([CLS], the first text row)
                    case CLS -> t == 0 ? 1f : 0f;
                };
            }
        }
        Tensor weights = tape.allocate(rows, 1, length);
        tape.backend().upload(w, weights);
        Variable pooled = MatMul.apply(tape, tape.constant(weights, "pooling weights"), hidden, false, false);
        pooled = Reshape.apply(tape, pooled, rows, dim);                                                    // (B, dim)
        if (!pooling.normalize()) return pooled;
        Tensor scale = tape.allocate(dim);
        tape.backend().fill(scale, 1 / Math.sqrt(dim));
        // PyTorch: F.normalize(pooled, p=2, dim=1)
        return RmsNorm.apply(tape, pooled, scale, 1e-24 / dim);
    }

    public String name() {
        return name;
    }

    public BertConfig config() {
        return config;
    }

    public Pooling pooling() {
        return pooling;
    }

    /** The frozen tensors by Hugging Face name. */
    public Weights weights() {
        return weights;
    }

    @Override
    public void close() {
        weights.close();
    }

    @Override
    public String toString() {
        return "BertModel(" + name + ", " + config.layers() + " layers, dim " + config.hiddenSize() + ", " + pooling
                + ")";
    }
}
