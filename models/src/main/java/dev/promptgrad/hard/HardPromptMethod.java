package dev.promptgrad.hard;

import dev.promptgrad.data.Example;

import java.util.List;

/**
 * One way of searching for a hard prompt with gradients, step by step: {@link Pez} (a continuous prompt projected
 * to its nearest tokens), {@link Gcg} (batches of single-token swaps ranked by the one-hot gradient) and
 * {@link AutoPrompt} (swaps at one random position, accepted only if they help). A method holds its current
 * prompt; {@link HardPromptSearch} runs the steps, picks the examples and keeps the best prompt seen.
 */
public sealed interface HardPromptMethod permits Pez, Gcg, AutoPrompt {

    /** "pez", "gcg" or "autoprompt". */
    String name();

    /** The prompt as it stands (PEZ: the projection of its continuous prompt); a copy. */
    int[] current();

    /**
     * One step on {@code batch} (training examples); returns the loss on the batch that the step measured: PEZ's
     * at the projection it took the gradient at, GCG's of the swap it kept, AutoPrompt's of the prompt it kept.
     *
     * @throws IllegalStateException if the loss or the gradient is not finite
     */
    double step(List<Example> batch);
}
