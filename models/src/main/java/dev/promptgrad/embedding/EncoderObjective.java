package dev.promptgrad.embedding;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.encoder.BertModel;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderBatch;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.ops.RmsNorm;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingObjective;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalInt;

/**
 * What the encoder objectives share: the frozen {@link Encoder}, where the prompt goes and the softmax temperature;
 * unit-length sentence embeddings on the tape (pooled over the text tokens, never the prompt rows); the PEFT
 * adapter's config (task type FEATURE_EXTRACTION); the prompt's first values; the data fingerprint over token ids.
 * The losses themselves are {@link ClassifyObjective}'s and {@link ContrastiveObjective}'s. It does not own the
 * encoder.
 */
public abstract sealed class EncoderObjective implements TrainingObjective
        permits ClassifyObjective, ContrastiveObjective {
    /** The batch size of evaluations that only run forward (accuracy, label embeddings). */
    static final int FORWARD_BATCH = 32;

    final Encoder encoder;
    final TrainingConfig.Objective settings;

    EncoderObjective(Encoder encoder, TrainingConfig.Objective settings, TrainingConfig.Objective.Kind kind) {
        if (settings.kind() != kind) {
            throw new IllegalArgumentException("a " + getClass().getSimpleName() + " needs --objective "
                    + kind.cliName()
                    + ", not " + settings.kind().cliName());
        }
        this.encoder = encoder;
        this.settings = settings;
    }

    public Encoder encoder() {
        return encoder;
    }

    /** The objective's kind, placement, temperature and label text. */
    public TrainingConfig.Objective settings() {
        return settings;
    }

    @Override
    public String modelName() {
        return encoder.model().name();
    }

    @Override
    public Backend backend() {
        return encoder.model().weights().backend();
    }

    @Override
    public int width() {
        return encoder.model().config().hiddenSize();
    }

    /** The adapter names the built-in {@value EncoderCatalog#MINILM} by its Hub id, which PEFT can load. */
    @Override
    public PeftAdapter.TuningConfig adapterConfig(TrainingConfig config) {
        boolean text = config.init().kind() == TrainingConfig.Init.Kind.TEXT;
        String base = config.baseModel().equals(EncoderCatalog.MINILM) ? EncoderCatalog.MINILM_HUB_ID
                : config.baseModel();
        return new PeftAdapter.TuningConfig(base, encoder.model().config().layers(),
                encoder.model().config().heads(), config.init().peftName(), text ? config.init().argument() : null,
                text ? (config.tokenizer() != null ? config.tokenizer() : base) : null, PeftAdapter.FEATURE_EXTRACTION);
    }

    @Override
    public void check(TrainingConfig config) {
        if (!config.objective().equals(settings)) {
            throw new IllegalArgumentException("the run is configured for " + describe(config.objective())
                    + " but this objective is " + describe(settings));
        }
        int positions = encoder.model().config().maxPositions();
        if (config.virtualTokens() > positions - 2) {
            throw new IllegalArgumentException("--virtual-tokens " + config.virtualTokens()
                    + " leaves no room for [CLS]"
                    + " and [SEP] in the " + positions + " positions of " + modelName());
        }
        if (config.maxLength() > 0) {
            throw new IllegalArgumentException("--max-length is for --objective causal-lm; an encoder cuts each text to"
                    + " its tokenizer's max_length and the positions the prompt leaves");
        }
    }

    /**
     * The starting prompt, (virtual tokens, width): sample-vocab and random as for a causal LM (from the seed),
     * text is PEFT's TEXT with the tokenizer's [CLS] and [SEP], labels (classify only) averages each label text's
     * word embeddings into one row, adapter copies an adapter's prompt.
     */
    public PromptInit.Initial initialPrompt(TrainingConfig config) {
        int rows = config.virtualTokens();
        long seed = config.seed();
        TrainingConfig.Init init = config.init();
        int dim = width();
        BertModel model = encoder.model();
        Tensor table = model.weights().get("embeddings.word_embeddings.weight");   // (vocab, dim)
        int vocab = model.config().vocabSize();
        PromptInit start = switch (init.kind()) {
            case SAMPLE_VOCAB -> new PromptInit.SampledVocab(seed, rows);
            case RANDOM -> new PromptInit.RandomNormal(seed, rows);
            case TEXT -> new PromptInit.TextRepeated(init.argument(), rows, specials());
            case LABELS -> new PromptInit.ClassLabels(labelTokens(), seed, rows);
            case ADAPTER -> null;
        };
        if (start == null) {
            Path folder = Path.of(init.argument());
            PeftAdapter adapter = PeftAdapter.read(folder).requireWidth(dim, modelName());
            if (adapter.virtualTokens() != rows) {
                throw new IllegalArgumentException("--init adapter:" + folder + " holds " + adapter.virtualTokens()
                        + " virtual tokens, but the run asks for " + rows + "; give --virtual-tokens "
                        + adapter.virtualTokens());
            }
            return new PromptInit.Initial(rows, dim, adapter.embeddings(), new int[0]);
        }
        return start.initialise(dim, vocab, encoder.tokenizer(), id -> backend().download(table.select(id)));
    }

    /** The token ids of each label text, for the labels init; refused where there are no labels. */
    List<int[]> labelTokens() {
        throw new IllegalArgumentException("--init labels needs --objective classify: " + settings.kind().cliName()
                + " data has no labels; use sample-vocab, text:TEXT, random or adapter:DIR");
    }

    /** What the tokenizer puts around a text ([CLS] and [SEP]), as PEFT's TEXT init includes them. */
    private BosEosRule specials() {
        int[] empty = encoder.tokenizer().encodeForModel("");
        return new BosEosRule(empty.length > 0 ? OptionalInt.of(empty[0]) : OptionalInt.empty(),
                empty.length > 1 ? OptionalInt.of(empty[empty.length - 1]) : OptionalInt.empty());
    }

    /**
     * Sentence embeddings of {@code batch} with {@code prompt} (null for none) placed as the settings say, as unit
     * rows [B, dim]: the model's pooling, L2-normalised if the model does not normalise already (as
     * {@code BertModel}'s pooling does it: RMSNorm with weight 1/√dim, docs/autograd.md#sentence-pooling-bert), so
     * that a product of two of them is their cosine similarity.
     */
    Variable unitEmbeddings(Tape tape, EncoderBatch batch, Variable prompt) {
        BertModel model = encoder.model();
        Variable pooled = model.forward(tape, batch, prompt, settings.placement()).pooled();
        if (model.pooling().normalize()) return pooled;
        int dim = width();
        Tensor scale = tape.allocate(dim);
        tape.backend().fill(scale, 1 / Math.sqrt(dim));
        // PyTorch: F.normalize(pooled, p=2, dim=1)
        return RmsNorm.apply(tape, pooled, scale, 1e-24 / dim);
    }

    /** {@code v} scaled to unit length (left as is when it is all zeros). */
    static void normalize(float[] v, int from, int length) {
        double squares = 0;
        for (int i = from; i < from + length; i++) squares += (double) v[i] * v[i];
        if (squares == 0) return;
        double inverse = 1 / Math.sqrt(squares);
        for (int i = from; i < from + length; i++) v[i] = (float) (v[i] * inverse);
    }

    /** SHA-256 (hex) over {@code sequences} of ints, each preceded by its length. */
    static String sha256(List<int[]> sequences) {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
        for (int[] sequence : sequences) {
            ByteBuffer bytes = ByteBuffer.allocate(4 * (sequence.length + 1)).order(ByteOrder.LITTLE_ENDIAN);
            bytes.putInt(sequence.length);
            for (int value : sequence) bytes.putInt(value);
            digest.update(bytes.array());
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    /** Real tokens of a batch. */
    static long realTokens(EncoderBatch batch) {
        long n = 0;
        for (int b = 0; b < batch.batch(); b++) n += batch.tokens(b);
        return n;
    }

    private static String describe(TrainingConfig.Objective objective) {
        return objective.kind().cliName() + (objective.placement() == null ? ""
                : " (placement " + objective.placement().cliName() + ", temperature " + objective.temperature() + ")");
    }
}
