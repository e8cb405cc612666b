package dev.promptgrad.checkpoint;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.model.Llama;
import dev.promptgrad.model.LlamaConfig;
import dev.promptgrad.model.WeightStorage;
import dev.promptgrad.safetensors.SafetensorsDType;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import static java.lang.Math.addExact;
import static java.lang.Math.multiplyExact;

/**
 * Reads karpathy's llama2.c legacy {@code .bin} checkpoints (the format run.c reads: a header of seven
 * int32, then float32 weights) into a {@link Llama} with INTERLEAVED RoPE, RMSNorm eps 1e-5 and theta
 * 10000, and converts such a model to Hugging Face's rotate-half layout. It does not write .bin files or
 * read the tokenizer.
 */
public final class Llama2cCheckpoint {

    /** run.c's RMSNorm epsilon. */
    public static final double RMS_NORM_EPS = 1e-5;
    /** run.c's RoPE base. */
    public static final double ROPE_THETA = 10000.0;

    private static final int HEADER_BYTES = 7 * Integer.BYTES;

    private Llama2cCheckpoint() {
    }

    /**
     * The seven header fields. {@code sharedClassifier} is run.c's {@code vocab_size > 0}: the head is the
     * token embedding table; otherwise a classifier (vocab, dim) follows the other weights.
     */
    public record Header(int dim, int hidden, int layers, int heads, int kvHeads, int vocabSize,
                         boolean sharedClassifier, int seqLen) {

        public int headSize() {
            return dim / heads;
        }

        public int kvWidth() {
            return kvHeads * headSize();
        }

        /**
         * The file size this header implies, in bytes.
         *
         * @throws ArithmeticException if that size does not fit in 64 bits (a header of nonsense sizes, which must
         *                             not wrap around to a small number that happens to match the file)
         */
        public long expectedBytes() {
            long l = layers, d = dim, h = hidden, v = vocabSize;
            long floats = sum(product(v, d),              // token_embedding_table (vocab, dim)
                    product(l, d),                        // rms_att_weight (layers, dim)
                    product(l, d, d),                     // wq (layers, dim, dim)
                    product(2, l, d, kvWidth()),          // wk, wv (layers, dim, kv_dim)
                    product(l, d, d),                     // wo (layers, dim, dim)
                    product(l, d),                        // rms_ffn_weight (layers, dim)
                    product(3, l, h, d),                  // w1 (layers, hidden, dim), w2 (layers, dim, hidden), w3
                    d,                                    // rms_final_weight (dim)
                    product(seqLen, headSize()),          // freq_cis_real and freq_cis_imag, seq_len · head_size/2 each
                    sharedClassifier ? 0 : product(v, d)); // wcls (vocab, dim)
            return sum(HEADER_BYTES, product(4, floats));
        }

        private static long product(long... factors) {
            long p = 1;
            for (long f : factors) p = multiplyExact(p, f);
            return p;
        }

        private static long sum(long... terms) {
            long s = 0;
            for (long t : terms) s = addExact(s, t);
            return s;
        }

        /** The model this header describes, as a Llama configuration with llama2.c's fixed settings. */
        public LlamaConfig config() {
            return new LlamaConfig("llama", vocabSize, seqLen, dim, hidden, layers, heads, kvHeads, headSize(),
                    RMS_NORM_EPS, ROPE_THETA, RopeLayout.INTERLEAVED, sharedClassifier, false, false, false);
        }

        @Override
        public String toString() {
            return "dim " + dim + ", hidden_dim " + hidden + ", n_layers " + layers + ", n_heads " + heads
                    + ", n_kv_heads " + kvHeads + ", vocab_size " + (sharedClassifier ? vocabSize : -vocabSize)
                    + ", seq_len " + seqLen;
        }
    }

    /** Reads and checks the header: sizes positive and consistent, and the file exactly as long as they imply. */
    public static Header readHeader(Path file) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(channel, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read llama2.c checkpoint " + file + ": " + e.getMessage(), e);
        }
    }

    /** Loads the checkpoint onto {@code backend} in float32; the model is named after the file. */
    public static Llama load(Path file, Backend backend) {
        return load(file, backend, WeightStorage.F32);
    }

    /**
     * Loads the checkpoint onto {@code backend}, its matrices stored as {@code storage} says (the file is float32, so
     * AUTO keeps float32); the model is named after the file.
     */
    public static Llama load(Path file, Backend backend, WeightStorage storage) {
        storage.requireSupportedBy(backend);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            Header header = readHeader(channel, file);
            LlamaConfig config = header.config();
            String name = String.valueOf(file.getFileName());
            Weights weights = new Weights(backend, name);
            try {
                readWeights(new FloatReader(channel, file, storage), header, weights);
            } catch (RuntimeException | IOException e) {
                weights.close();
                throw e;
            }
            return new Llama(name, config, weights);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read llama2.c checkpoint " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The same model in Hugging Face's layout: wq and wk rows permuted within each head so that ROTATE_HALF
     * pairs (j, j + headSize/2) hold what INTERLEAVED pairs (2j, 2j + 1) held; every other tensor copied.
     * This is the permutation of Hugging Face's convert_llama_weights_to_hf.py:
     * {@code w.view(heads, headSize / 2, 2, dim).transpose(1, 2).reshape(heads · headSize, dim)}.
     * The attention scores are unchanged because q and k are permuted alike. The new model has its own
     * weights on the same backend; the original stays open.
     */
    public static Llama toRotateHalf(Llama interleaved) {
        LlamaConfig config = interleaved.config();
        if (config.ropeLayout() != RopeLayout.INTERLEAVED) {
            throw new IllegalArgumentException(interleaved.name() + " already uses " + config.ropeLayout() + " RoPE");
        }
        Backend backend = interleaved.backend();
        Weights copy = new Weights(backend, interleaved.name() + " (rotate-half)");
        try {
            for (Map.Entry<String, Tensor> e : interleaved.weights().all().entrySet()) {
                String name = e.getKey();
                Tensor source = e.getValue();
                int heads = name.endsWith("self_attn.q_proj.weight") ? config.heads()
                        : name.endsWith("self_attn.k_proj.weight") ? config.kvHeads() : 0;
                Tensor target = copy.allocate(name, source.dtype(), source.shape());
                if (heads == 0) {
                    backend.copy(source, target);
                } else {
                    backend.upload(interleavedToRotateHalf(backend.download(source), heads, config.headSize(),
                            source.dim(1)), target);
                }
            }
        } catch (RuntimeException e) {
            copy.close();
            throw e;
        }
        return new Llama(interleaved.name(), config.withRopeLayout(RopeLayout.ROTATE_HALF), copy);
    }

    /** Rows (h, j, half) of w [heads·headSize, cols] become rows (h, half, j). */
    static float[] interleavedToRotateHalf(float[] w, int heads, int headSize, int cols) {
        float[] out = new float[w.length];
        int half = headSize / 2;
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < half; j++) {
                for (int part = 0; part < 2; part++) {
                    int from = h * headSize + 2 * j + part;
                    int to = h * headSize + part * half + j;
                    System.arraycopy(w, from * cols, out, to * cols, cols);
                }
            }
        }
        return out;
    }

    private static Header readHeader(FileChannel channel, Path file) throws IOException {
        long size = channel.size();
        if (size < HEADER_BYTES) {
            throw new CheckpointException(file + ": " + size + " bytes is too short for a llama2.c checkpoint, whose"
                    + " header alone is " + HEADER_BYTES + " bytes (seven int32)");
        }
        ByteBuffer buffer = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, buffer.position()) < 0) {
                throw new CheckpointException(file + ": unexpected end of file in the header");
            }
        }
        buffer.flip();
        int dim = buffer.getInt(), hidden = buffer.getInt(), layers = buffer.getInt(), heads = buffer.getInt();
        int kvHeads = buffer.getInt(), vocab = buffer.getInt(), seqLen = buffer.getInt();
        String fields = "dim " + dim + ", hidden_dim " + hidden + ", n_layers " + layers + ", n_heads " + heads
                + ", n_kv_heads " + kvHeads + ", vocab_size " + vocab + ", seq_len " + seqLen;
        if (dim < 1 || hidden < 1 || layers < 1 || heads < 1 || kvHeads < 1 || vocab == 0 || vocab == Integer.MIN_VALUE
                || seqLen < 1) {
            throw new CheckpointException(file + ": header (" + fields + ") has a size that is not positive;"
                    + " is this a llama2.c legacy checkpoint?");
        }
        if (dim % heads != 0 || heads % kvHeads != 0 || (dim / heads) % 2 != 0) {
            throw new CheckpointException(file + ": header (" + fields + ") is inconsistent: dim must divide into"
                    + " n_heads heads of even size, and n_heads must be a multiple of n_kv_heads");
        }
        Header header = new Header(dim, hidden, layers, heads, kvHeads, Math.abs(vocab), vocab > 0, seqLen);
        long expected;
        try {
            expected = header.expectedBytes();
        } catch (ArithmeticException overflow) {
            throw new CheckpointException(file + ": header (" + fields + ") implies more than 2^63 bytes of weights;"
                    + " the file is corrupt or not a llama2.c legacy checkpoint");
        }
        if (size != expected) {
            throw new CheckpointException(file + ": the header (" + fields + ") implies " + expected + " bytes but the"
                    + " file has " + size + (size < expected ? "; it is truncated" : "; it has extra data")
                    + " or is not a llama2.c legacy checkpoint");
        }
        return header;
    }

    /** run.c's memory_map_weights order, each per-layer block split into Hugging Face's per-layer names. */
    private static void readWeights(FloatReader in, Header h, Weights weights) throws IOException {
        int dim = h.dim(), kv = h.kvWidth(), hidden = h.hidden();
        in.into(weights, "model.embed_tokens.weight", h.vocabSize(), dim);
        perLayer(in, weights, h, "input_layernorm.weight", dim);
        perLayer(in, weights, h, "self_attn.q_proj.weight", dim, dim);
        perLayer(in, weights, h, "self_attn.k_proj.weight", kv, dim);
        perLayer(in, weights, h, "self_attn.v_proj.weight", kv, dim);
        perLayer(in, weights, h, "self_attn.o_proj.weight", dim, dim);
        perLayer(in, weights, h, "post_attention_layernorm.weight", dim);
        perLayer(in, weights, h, "mlp.gate_proj.weight", hidden, dim);   // w1
        perLayer(in, weights, h, "mlp.down_proj.weight", dim, hidden);   // w2
        perLayer(in, weights, h, "mlp.up_proj.weight", hidden, dim);     // w3
        in.into(weights, "model.norm.weight", dim);
        in.skip((long) h.seqLen() * h.headSize());                       // freq_cis_real, freq_cis_imag
        if (!h.sharedClassifier()) in.into(weights, "lm_head.weight", h.vocabSize(), dim);
    }

    private static void perLayer(FloatReader in, Weights weights, Header h, String suffix, int... shape)
            throws IOException {
        for (int l = 0; l < h.layers(); l++) in.into(weights, "model.layers." + l + "." + suffix, shape);
    }

    /** Reads consecutive little-endian float32 values from a position in the file. */
    private static final class FloatReader {
        private final FileChannel channel;
        private final Path file;
        private final ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long position = HEADER_BYTES;

        private final WeightStorage storage;

        FloatReader(FileChannel channel, Path file, WeightStorage storage) {
            this.channel = channel;
            this.file = file;
            this.storage = storage;
        }

        void into(Weights weights, String name, int... shape) throws IOException {
            long count = Tensor.sizeOf(shape);
            if (count > Integer.MAX_VALUE - 8) {
                throw new CheckpointException(file + ": tensor '" + name + "' has " + count + " elements, more than one"
                        + " Java array holds");
            }
            float[] values = new float[(int) count];
            int filled = 0;
            while (filled < values.length) {
                chunk.clear();
                chunk.limit((int) Math.min(chunk.capacity(), 4L * (values.length - filled)));
                while (chunk.hasRemaining()) {
                    int read = channel.read(chunk, position);
                    if (read < 0) {
                        throw new CheckpointException(file + ": unexpected end of file in tensor '" + name + "'");
                    }
                    position += read;
                }
                chunk.flip();
                int n = chunk.remaining() / 4;
                chunk.asFloatBuffer().get(values, filled, n);
                filled += n;
            }
            weights.put(name, storage.dtypeFor(shape, SafetensorsDType.F32, weights.backend()),
                    FiniteWeights.require(values, file.toString(), name), shape);
        }

        void skip(long floats) {
            position += 4 * floats;
        }
    }
}
