package dev.promptgrad.generate;

import dev.promptgrad.tensor.Tensor;

/**
 * One sequence of a mixed batch for {@link BatchGenerator}: its soft prompt (or none), the ids it starts from
 * and how it is generated. It holds the prompt tensor, which stays the caller's.
 *
 * @param prompt   the soft prompt [P, dim], or null
 * @param inputIds the ids fed after the prompt; may be empty when there is a prompt
 */
public record BatchRequest(Tensor prompt, int[] inputIds, GenerationSettings settings) {

    public BatchRequest {
        if (settings == null) throw new IllegalArgumentException("generation settings are required");
        inputIds = inputIds.clone();
        if (prompt == null && inputIds.length == 0) {
            throw new IllegalArgumentException("a request needs a soft prompt or at least one input id");
        }
    }

    @Override
    public int[] inputIds() {
        return inputIds.clone();
    }

    /** Positions the request feeds before generating: its prompt rows and input ids. */
    public int prefixLength() {
        return (prompt == null ? 0 : prompt.dim(0)) + inputIds.length;
    }
}
