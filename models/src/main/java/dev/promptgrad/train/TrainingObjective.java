package dev.promptgrad.train;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.prompt.PeftAdapter;

/**
 * What a {@link PromptTrainer} minimises: a frozen model, its training and held-out examples, and the loss of a
 * micro-batch of them given the prompt. The trainer only shuffles indices, schedules, steps the optimizer and saves;
 * everything that depends on the kind of model lives behind this interface. {@link CausalLmObjective} is the
 * causal LM's next-token loss; the encoder objectives are in {@code dev.promptgrad.embedding}. It does not own the
 * model.
 */
public interface TrainingObjective {

    /** One micro-batch, ready for a forward pass. */
    interface Batch {
        /**
         * The batch's loss with {@code prompt} [P, width] in front: a scalar, the mean over the {@link #weight()}
         * things it scores.
         */
        Variable loss(Tape tape, Variable prompt);

        /**
         * How many things the loss is a mean over (labelled tokens, examples, pairs): a micro-batch's share of a
         * step is its weight over the step's total, as if the micro-batches were one batch.
         */
        long weight();

        /** Real (unpadded) tokens the forward pass reads, for the tokens-per-second figure. */
        long tokens();
    }

    /** The model's name, for messages and the loss curve's title. */
    String modelName();

    /** Where the model's tensors live. */
    Backend backend();

    /** The width of a prompt row: the model's hidden size. */
    int width();

    /**
     * What the adapter's {@code adapter_config.json} says about the model and the run, from {@code config}'s
     * base model, init and tokenizer.
     */
    PeftAdapter.TuningConfig adapterConfig(TrainingConfig config);

    /**
     * Refuses a configuration this model or these examples cannot be trained with (the wrong objective, more
     * virtual tokens than positions), with a message naming the flag.
     */
    void check(TrainingConfig config);

    /** How many training examples there are; the trainer draws indices below it. */
    int trainSize();

    /** How many held-out examples there are; 0 when there are none. */
    int evalSize();

    /** Where the examples came from and how many there are, for messages. */
    String dataDescription();

    /** SHA-256 (hex) over the examples as the model sees them, so a resumed run can check it has the same data. */
    String dataFingerprint();

    /** The training examples at {@code indices}, in that order, as one micro-batch for {@code promptRows}. */
    Batch trainBatch(int[] indices, int promptRows);

    /** Held-out examples {@code from} (inclusive) to {@code to} (exclusive) as one batch. */
    Batch evalBatch(int from, int to, int promptRows);
}
