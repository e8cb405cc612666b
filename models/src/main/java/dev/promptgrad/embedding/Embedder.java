package dev.promptgrad.embedding;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderBatch;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.train.Checkpoint;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingState;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Sentence embeddings in a few lines, with or without a soft prompt trained by promptgrad:
 * <pre>{@code
 * try (Embedder embedder = Embedder.open("minilm", Path.of("promptgrad-demo-adapter"))) {
 *     float[][] vectors = embedder.embed(List.of("The striker scored twice.", "Knead the dough."));
 *     double similarity = Embedder.cosine(vectors[0], vectors[1]);
 * }
 * }</pre>
 * The model is "minilm" (all-MiniLM-L6-v2 from the classpath, offline), a Hugging Face BERT folder or an .onnx file
 * with tokenizer.json beside it; the prompt is a PEFT adapter folder. {@code embed} is synchronized: one thread at a
 * time runs the model. Not a vector store and not a similarity search.
 */
public final class Embedder implements AutoCloseable {
    /** Texts encoded per forward pass. */
    private static final int BATCH = 32;

    private final Encoder encoder;
    private final PromptPlacement placement;
    private final Backend ownedBackend;    // closed with the embedder, or null when the caller owns the backend
    private final boolean ownsEncoder;
    private final Scope scope;
    private final Tensor prompt;           // (P, dim), or null without a prompt
    private final Workspace workspace;

    /**
     * Embeds with {@code encoder}, which the caller keeps owning (and closes after this), and {@code adapter}'s
     * prompt placed as {@code placement}; {@code adapter} null for none.
     */
    public Embedder(Encoder encoder, PeftAdapter adapter, PromptPlacement placement) {
        this(encoder, adapter, placement, null, false);
    }

    private Embedder(Encoder encoder, PeftAdapter adapter, PromptPlacement placement, Backend ownedBackend,
                     boolean ownsEncoder) {
        Backend backend = encoder.model().weights().backend();
        int dim = encoder.model().config().hiddenSize();
        if (adapter != null) adapter.requireWidth(dim, encoder.model().name());
        this.encoder = encoder;
        this.placement = placement;
        this.ownedBackend = ownedBackend;
        this.ownsEncoder = ownsEncoder;
        this.scope = new Scope(backend, "embedder prompt");
        this.prompt = adapter == null ? null : scope.of(adapter.embeddings(), adapter.virtualTokens(), dim);
        this.workspace = new Workspace(backend, "embed");
    }

    /** {@code model} without a prompt, on a new CPU backend with a thread per core; closing the embedder frees all. */
    public static Embedder open(String model) {
        return open(model, null);
    }

    /**
     * {@code model} with the prompt of the PEFT adapter folder {@code adapterFolder} (null for none), placed as the
     * run that trained it was configured ({@link #placementOf}), on a new CPU backend with a thread per core;
     * closing the embedder frees everything.
     */
    public static Embedder open(String model, Path adapterFolder) {
        return open(model, adapterFolder, adapterFolder == null ? TrainingConfig.Objective.DEFAULT_PLACEMENT
                : placementOf(adapterFolder).orElse(TrainingConfig.Objective.DEFAULT_PLACEMENT));
    }

    /** As {@link #open(String, Path)} with the prompt placed as {@code placement}. */
    public static Embedder open(String model, Path adapterFolder, PromptPlacement placement) {
        PeftAdapter adapter = adapterFolder == null ? null : PeftAdapter.read(adapterFolder);
        CpuBackend backend = new CpuBackend();
        Encoder encoder = null;
        try {
            encoder = EncoderCatalog.load(model, backend);
            return new Embedder(encoder, adapter, placement, backend, true);
        } catch (RuntimeException e) {
            if (encoder != null) encoder.close();
            backend.close();
            throw e;
        }
    }

    /**
     * Where the run that wrote {@code adapterFolder} put its prompt, when the folder (or, for a {@code best/}
     * folder, its parent) holds a promptgrad training state of an encoder objective; empty otherwise (a PEFT
     * adapter alone does not say: PEFT itself puts the prompt before [CLS]).
     */
    public static Optional<PromptPlacement> placementOf(Path adapterFolder) {
        Path absolute = adapterFolder.toAbsolutePath().normalize();
        for (Path folder : new Path[] {absolute, absolute.getParent()}) {
            if (folder != null && Files.isRegularFile(folder.resolve(TrainingState.FILE))) {
                PromptPlacement saved = Checkpoint.savedConfig(folder).objective().placement();
                return Optional.ofNullable(saved);
            }
        }
        return Optional.empty();
    }

    /** One embedding per text, {@link #dimension()} values each, as the model's pooling makes them. */
    public synchronized float[][] embed(List<String> texts) {
        Backend backend = workspace.backend();
        int dim = dimension();
        int promptRows = prompt == null ? 0 : prompt.dim(0);
        float[][] out = new float[texts.size()][];
        Tape tape = new Tape(backend, workspace);
        for (int from = 0; from < texts.size(); from += BATCH) {
            List<String> chunk = texts.subList(from, Math.min(texts.size(), from + BATCH));
            tape.reset();
            Variable p = prompt == null ? null : tape.constant(prompt, "prompt_embeddings");
            EncoderBatch batch = encoder.batch(chunk, promptRows);
            Tensor pooled = encoder.model().forward(tape, batch, p, placement).pooled().value();
            float[] values = backend.download(pooled);                                                // (B, dim)
            for (int i = 0; i < chunk.size(); i++) out[from + i] = Arrays.copyOfRange(values, i * dim, (i + 1) * dim);
        }
        tape.reset();
        return out;
    }

    /** The embedding of one text. */
    public float[] embed(String text) {
        return embed(List.of(text))[0];
    }

    /** The cosine similarity of two embeddings (their dot product when both are unit length, as MiniLM's are). */
    public static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("embeddings of " + a.length + " and " + b.length
                    + " values cannot be compared");
        }
        double dot = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return aa == 0 || bb == 0 ? 0 : dot / Math.sqrt(aa * bb);
    }

    /** Values per embedding: the model's hidden size. */
    public int dimension() {
        return encoder.model().config().hiddenSize();
    }

    /** Prompt rows in front of each text; 0 without a prompt. */
    public int promptRows() {
        return prompt == null ? 0 : prompt.dim(0);
    }

    public PromptPlacement placement() {
        return placement;
    }

    public Encoder encoder() {
        return encoder;
    }

    @Override
    public synchronized void close() {
        workspace.close();
        scope.close();
        if (ownsEncoder) encoder.close();
        if (ownedBackend != null) ownedBackend.close();
    }
}
