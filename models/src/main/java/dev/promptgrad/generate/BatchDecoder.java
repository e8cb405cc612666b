package dev.promptgrad.generate;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.model.KvCache;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Decodes a batch of sequences that each have their own soft prompt (or none) and their own tokens, with one
 * forward pass over the whole batch per step and one KV cache. The first step aligns the rows by left padding:
 * row i's P_i prompt rows and n_i tokens end at the same column for every row, its pads are hidden by the key
 * mask, and its positions are 0 … P_i + n_i − 1, exactly as if it were decoded alone; later steps feed one
 * token per row. A row that has finished takes a masked placeholder column, so it changes nothing. Inference
 * only; owns its workspace and cache, not the model or the prompts.
 */
public final class BatchDecoder implements AutoCloseable {
    private final LanguageModel model;
    private final List<Tensor> prompts;   // batch × (P_i, dim) or null
    private final int batch;
    private final Workspace workspace;
    private final Tape tape;
    private final KvCache cache;
    private final int[] keyMask;          // (batch, capacity): 1 = a real key, 0 = a pad or a finished row's placeholder
    private final int[] keyPositions;     // (batch, capacity): each key's position in its own sequence (0 where masked)
    private final int[] lengths;          // (batch): positions each row has fed, prompt rows included

    /**
     * @param prompts  one entry per row: its soft prompt [P, dim] (P ≥ 1), or null for none
     * @param capacity the most columns (pads included) the batch may reach: see {@link #columnsNeeded}
     */
    public BatchDecoder(LanguageModel model, List<Tensor> prompts, int capacity) {
        if (prompts.isEmpty()) throw new IllegalArgumentException("a batch needs at least one sequence");
        for (Tensor prompt : prompts) DecoderInputs.checkPrompt(model, prompt);
        this.model = model;
        this.prompts = new ArrayList<>(prompts);
        this.batch = prompts.size();
        this.cache = model.newKvCache(batch, capacity);
        this.workspace = new Workspace(model.backend(), "batch decode " + model.name());
        this.tape = new Tape(model.backend(), workspace);
        this.keyMask = new int[batch * capacity];
        this.keyPositions = new int[batch * capacity];
        this.lengths = new int[batch];
    }

    /**
     * The columns a batch needs when row i starts with {@code prefixes[i]} positions (prompt rows and tokens)
     * and then feeds up to {@code steps[i]} more tokens: the longest prefix plus the most steps.
     */
    public static int columnsNeeded(int[] prefixes, int[] steps) {
        return Arrays.stream(prefixes).max().orElse(0) + Arrays.stream(steps).max().orElse(0);
    }

    public LanguageModel model() {
        return model;
    }

    public int batch() {
        return batch;
    }

    /** Positions row {@code row} has fed so far, its prompt rows included. */
    public int length(int row) {
        return lengths[row];
    }

    /** Columns filled so far, pads and placeholders included. */
    public int columns() {
        return cache.length();
    }

    /**
     * The first step: row i's prompt rows then {@code tokens[i]} (which may be empty when it has a prompt).
     * Returns each row's logits (vocab) after its last position.
     */
    public float[][] start(int[][] tokens) {
        if (cache.length() != 0) throw new IllegalStateException("start has been called already; feed with step");
        if (tokens.length != batch) {
            throw new IllegalArgumentException(tokens.length + " token rows given for a batch of " + batch);
        }
        int[] prefix = new int[batch];
        for (int b = 0; b < batch; b++) {
            prefix[b] = promptRows(b) + tokens[b].length;
            if (prefix[b] == 0) {
                throw new IllegalArgumentException("sequence " + b + " has neither a soft prompt nor tokens; give it"
                        + " at least one token");
            }
            checkIds(tokens[b], b);
        }
        int width = Arrays.stream(prefix).max().getAsInt();
        tape.reset();
        Backend backend = model.backend();
        Tensor x = tape.allocate(batch, width, model.dim());                                  // (batch, S, dim)
        backend.fill(x, 0);
        for (int b = 0; b < batch; b++) {
            int pads = width - prefix[b];
            int rows = promptRows(b);
            Tensor row = x.select(b);                                                          // (S, dim)
            // PyTorch (PEFT): inputs_embeds = torch.cat((prompts, inputs_embeds), dim=1), after the left pads
            if (rows > 0) backend.copy(prompts.get(b), row.slice(pads, pads + rows));
            if (tokens[b].length > 0) backend.gather(model.embeddingTable(), tokens[b], row.slice(pads + rows, width));
            for (int c = pads; c < width; c++) {
                keyMask[b * cache.capacity() + c] = 1;
                keyPositions[b * cache.capacity() + c] = c - pads;
            }
            lengths[b] = prefix[b];
        }
        Variable logits = run(x, width);                                                     // (batch, S, vocab)
        float[][] last = new float[batch][];
        for (int b = 0; b < batch; b++) last[b] = backend.download(logits.value().select(b).select(width - 1));
        return last;
    }

    /**
     * Feeds one token per row: {@code tokens[i]} when {@code active[i]}, else a masked placeholder (the token is
     * ignored). Returns each row's logits (vocab) after the new token; an inactive row's are meaningless.
     */
    public float[][] step(int[] tokens, boolean[] active) {
        if (cache.length() == 0) throw new IllegalStateException("call start before step");
        if (tokens.length != batch || active.length != batch) {
            throw new IllegalArgumentException(tokens.length + " tokens and " + active.length + " flags given for a batch"
                    + " of " + batch);
        }
        int column = cache.length();
        if (column >= cache.capacity()) {
            throw new IllegalStateException("the batch has filled its " + cache.capacity() + " columns");
        }
        int[] fed = new int[batch];
        for (int b = 0; b < batch; b++) {
            if (!active[b]) continue;
            checkIds(new int[] {tokens[b]}, b);
            fed[b] = tokens[b];
            keyMask[b * cache.capacity() + column] = 1;
            keyPositions[b * cache.capacity() + column] = lengths[b]++;
        }
        tape.reset();
        Tensor x = tape.allocate(batch, 1, model.dim());                                      // (batch, 1, dim)
        model.backend().gather(model.embeddingTable(), fed, x.view(batch, model.dim()));
        float[] logits = model.backend().download(run(x, 1).value());                        // (batch, 1, vocab)
        float[][] rows = new float[batch][];
        int vocab = model.vocabSize();
        for (int b = 0; b < batch; b++) rows[b] = Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab);
        return rows;
    }

    /** Runs {@code length} new columns through the model with the mask and positions of every column so far. */
    private Variable run(Tensor x, int length) {
        int keys = cache.length() + length;
        int capacity = cache.capacity();
        float[] mask = new float[batch * keys];                                               // (batch, keys)
        int[] positions = new int[batch * keys];                                              // (batch, keys)
        for (int b = 0; b < batch; b++) {
            for (int k = 0; k < keys; k++) {
                mask[b * keys + k] = keyMask[b * capacity + k];
                positions[b * keys + k] = keyPositions[b * capacity + k];
            }
        }
        Tensor maskTensor = tape.allocate(batch, keys);
        model.backend().upload(mask, maskTensor);
        return model.forward(tape, tape.constant(x, "batch inputs"), maskTensor, positions, cache, null);
    }

    private int promptRows(int row) {
        Tensor prompt = prompts.get(row);
        return prompt == null ? 0 : prompt.dim(0);
    }

    private void checkIds(int[] ids, int row) {
        for (int id : ids) {
            if (id < 0 || id >= model.vocabSize()) {
                throw new IllegalArgumentException("sequence " + row + ": token id " + id + " is outside the model's"
                        + " vocabulary [0, " + model.vocabSize() + ")");
            }
        }
    }

    /** Frees the activations and the cache; the model and the prompts stay open. */
    @Override
    public void close() {
        workspace.close();
        cache.close();
    }
}
