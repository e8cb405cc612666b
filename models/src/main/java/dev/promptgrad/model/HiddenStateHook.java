package dev.promptgrad.model;

import dev.promptgrad.tensor.Tensor;

/**
 * Sees a model's residual stream as a forward pass computes it, for golden tests and inspection. The
 * tensors live in the tape's workspace and are overwritten after the next reset: download what you keep.
 * It observes only; it cannot change the pass.
 */
public interface HiddenStateHook {

    /**
     * The residual stream h [batch, T, dim]: {@code index} 0 is the input to block 0 (GPT-2: token and
     * prompt embeddings plus position embeddings; Llama: the embeddings), {@code index} l ≥ 1 the output of
     * block l after both residual adds, before the final norm (Hugging Face's {@code hidden_states[l]},
     * except that its last entry is taken after the final norm).
     */
    void block(int index, Tensor hidden);

    /** The output of the final norm [batch, T, dim], the input to the LM head. */
    void finalNorm(Tensor hidden);
}
