package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.ops.ConcatPrompt;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.ops.Embedding;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

/**
 * A frozen causal language model (GPT-2, Llama and its relatives) whose forward pass starts from input
 * embeddings, so that a soft prompt can be put in front of the tokens and receive dLoss/dPrompt. The model
 * owns its {@link Weights} and frees them on {@link #close()}; activations live on the caller's
 * {@link Tape}. Checkpoint readers make models (dev.promptgrad.checkpoint); this interface does not read files.
 *
 * <p>Prompt semantics are PEFT's PROMPT_TUNING for CAUSAL_LM: the P prompt rows come first, before the token
 * embeddings (and before any padding); positions are 0 … P + T − 1 for every sequence; the attention mask
 * gets P ones in front and the labels P × −100; the loss is one mean cross-entropy over every labelled
 * next-token position of the batch ({@code logits[:, :-1]} against {@code labels[:, 1:]}).
 *
 * <p>One training step of a soft prompt:
 * <pre>{@code
 * try (LanguageModel model = HuggingFaceCheckpoint.load(folder, backend);
 *      Workspace workspace = new Workspace(backend, "step");
 *      Scope scope = new Scope(backend, "prompt")) {
 *     Tensor promptValues = scope.of(initialPrompt, promptLength, model.dim());   // (P, dim)
 *     Tape tape = new Tape(backend, workspace);
 *     TokenBatch batch = TokenBatch.of(ids, attentionMask, labels);                 // [batch][T] each
 *     Variable prompt = tape.parameter(promptValues, "prompt_embeddings");
 *     Variable loss = model.loss(tape, batch, prompt);
 *     Tensor dPrompt = tape.backward(loss).of(prompt);                               // (P, dim)
 *     // ... optimizer step on the downloaded values, upload into promptValues, then:
 *     tape.reset();
 * }
 * }</pre>
 * Generation (dev.promptgrad.generate) uses {@link #forward} with a {@link KvCache} on a tape holding only
 * constants, so nothing is recorded.
 * <p>Threads: a loaded model is read-only, so several threads may run forward passes on it at once, each with its
 * own {@link dev.promptgrad.autograd.Tape}, workspace and cache (one decoder per thread); a tape, workspace, cache
 * or decoder must not be shared between threads. Closing the model while another thread uses it is an error.
 */
public interface LanguageModel extends AutoCloseable {

    /** Where it came from, for messages and adapter files: a folder or file name. */
    String name();

    /** The Hugging Face {@code model_type}: "gpt2", "llama", "mistral" or "qwen2". */
    String architecture();

    int vocabSize();

    /** The width of the residual stream and of a prompt row (PEFT's {@code token_dim}). */
    int dim();

    int layers();

    /** Query heads per attention layer. */
    int heads();

    /** The most positions (prompt rows plus tokens) one sequence may have. */
    int contextLength();

    Backend backend();

    /** The frozen tensors, under the architecture's Hugging Face names. */
    Weights weights();

    /** The token embedding table (vocab, dim), for initialising a prompt from words or inspecting one. */
    Tensor embeddingTable();

    /**
     * A cache for incremental decoding of {@code batch} sequences of up to {@code capacity} columns each. A
     * column holds one key and value; without explicit positions it is one position, so the context length
     * bounds it. A left-padded batch given positions per sequence ({@link #forward(Tape, Variable, Tensor,
     * int[], KvCache, HiddenStateHook)}) spends columns on pads, so a cache may have up to twice the context
     * length of them; the positions themselves must stay within the context.
     */
    KvCache newKvCache(int batch, int capacity);

    /**
     * The architecture's pass from input embeddings x [batch, T, dim] to logits [batch, T, vocab]. Without a
     * cache the first row is position 0; with one it is {@code cache.length()}, the step attends to every
     * cached position as well and the cache advances by T.
     *
     * @param keyMask [batch, keys] with keys = cached positions + T, 1 = attend and 0 = padding; null if none
     * @param cache   null for a full pass (training); only constants may go through a cache
     * @param hook    null, or sees the residual stream of every block
     */
    default Variable forward(Tape tape, Variable embeddings, Tensor keyMask, KvCache cache, HiddenStateHook hook) {
        return forward(tape, embeddings, keyMask, null, cache, hook);
    }

    /**
     * As {@link #forward(Tape, Variable, Tensor, KvCache, HiddenStateHook)}, with the position of every key
     * given: [keys] shared by every sequence or [batch · keys], one row per sequence (keys = cached + T; the
     * new rows are the last T of each row). Left-padded sequences that start at different columns use it, so
     * that each sequence's first real row is position 0 as if it ran alone; a pad's position is irrelevant
     * (the key mask hides it) but must be valid. Null means 0, 1, … for every sequence. Every position must be
     * below {@link #contextLength()}.
     */
    Variable forward(Tape tape, Variable embeddings, Tensor keyMask, int[] positions, KvCache cache,
                     HiddenStateHook hook);

    /**
     * The tokens' embeddings [batch, T, dim], with the prompt [P, dim] in front of every sequence
     * ([batch, P + T, dim]) when it is not null.
     */
    default Variable embed(Tape tape, TokenBatch batch, Variable prompt) {
        if (prompt != null && (prompt.value().rank() != 2 || prompt.value().dim(1) != dim())) {
            throw new IllegalArgumentException(name() + ": a soft prompt must be [P, " + dim() + "], not " + prompt);
        }
        Variable tokens = Embedding.apply(tape, embeddingTable(), batch.ids(), batch.size(), batch.length());
        // PyTorch (PEFT): inputs_embeds = torch.cat((prompts, inputs_embeds), dim=1)
        return prompt == null ? tokens : ConcatPrompt.apply(tape, prompt, tokens);
    }

    /** Logits [batch, P + T, vocab] for every position, prompt rows and pads included. */
    default Variable logits(Tape tape, TokenBatch batch, Variable prompt) {
        return logits(tape, batch, prompt, null);
    }

    /** As {@link #logits(Tape, TokenBatch, Variable)}, showing the residual stream to {@code hook}. */
    default Variable logits(Tape tape, TokenBatch batch, Variable prompt, HiddenStateHook hook) {
        Variable embeddings = embed(tape, batch, prompt);
        int promptLength = prompt == null ? 0 : prompt.value().dim(0);
        Tensor keyMask = null;
        int[] mask = batch.modelAttentionMask(promptLength);
        if (mask != null) {
            double[] values = new double[mask.length];
            for (int i = 0; i < mask.length; i++) values[i] = mask[i];
            keyMask = tape.allocate(batch.size(), promptLength + batch.length());       // (batch, P + T)
            tape.backend().upload(values, keyMask);
        }
        return forward(tape, embeddings, keyMask, null, hook);
    }

    /**
     * The mean next-token cross-entropy over the batch's labelled positions, a scalar; the batch must have
     * labels. Its gradient reaches the prompt (if it is a parameter) and nothing else.
     */
    default Variable loss(Tape tape, TokenBatch batch, Variable prompt) {
        if (!batch.hasLabels()) {
            throw new IllegalArgumentException(name()
                    + ": a loss needs labels; give the batch labels (-100 = not scored)");
        }
        int promptLength = prompt == null ? 0 : prompt.value().dim(0);
        Variable logits = logits(tape, batch, prompt, null);
        // PyTorch (HF): loss = CrossEntropyLoss()(logits[..., :-1, :].view(-1, V), labels[..., 1:].view(-1))
        return CrossEntropy.apply(tape, logits, batch.nextTokenTargets(promptLength));
    }

    /** Frees the weights; the model cannot run afterwards. */
    @Override
    void close();
}
