package dev.promptgrad.train;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.RightPadding;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.prompt.PeftAdapter;

import java.util.ArrayList;
import java.util.List;

/**
 * The causal LM objective: the mean next-token cross-entropy over the labelled tokens of right-padded
 * {@link Example}s, with PEFT's CAUSAL_LM prompt semantics ({@link LanguageModel#loss}). A micro-batch weighs its
 * labelled tokens, so accumulated micro-batches average over every labelled token of the step. It holds the model
 * and the examples; it does not own the model.
 */
public final class CausalLmObjective implements TrainingObjective {

    /** One right-padded micro-batch of examples for a prompt of {@code promptRows}. */
    public record Batch(LanguageModel model, TokenBatch ids, int promptRows) implements TrainingObjective.Batch {
        @Override
        public Variable loss(Tape tape, Variable prompt) {
            return model.loss(tape, ids, prompt);
        }

        /** Targets scored by the loss: labels other than -100 once the prompt's P × -100 are in front and shifted. */
        @Override
        public long weight() {
            long n = 0;
            for (int target : ids.nextTokenTargets(promptRows)) if (target != CrossEntropy.IGNORE) n++;
            return n;
        }

        @Override
        public long tokens() {
            int[] mask = ids.attentionMask();
            if (mask == null) return (long) ids.size() * ids.length();
            long n = 0;
            for (int m : mask) n += m;
            return n;
        }
    }

    private final LanguageModel model;
    private final TrainingData data;
    private final int padId;

    /**
     * @param padId the id right-padded sequences are filled with (the tokenizer's pad, else 0); the loss does
     *              not depend on it, since pads are masked and unlabelled
     */
    public CausalLmObjective(LanguageModel model, TrainingData data, int padId) {
        this.model = model;
        this.data = data;
        this.padId = padId;
    }

    public LanguageModel model() {
        return model;
    }

    public TrainingData data() {
        return data;
    }

    @Override
    public String modelName() {
        return model.name();
    }

    @Override
    public Backend backend() {
        return model.backend();
    }

    @Override
    public int width() {
        return model.dim();
    }

    @Override
    public PeftAdapter.TuningConfig adapterConfig(TrainingConfig config) {
        boolean text = config.init().kind() == TrainingConfig.Init.Kind.TEXT;
        return new PeftAdapter.TuningConfig(config.baseModel(), model.layers(), model.heads(), config.init().peftName(),
                text ? config.init().argument() : null,
                text ? (config.tokenizer() != null ? config.tokenizer() : config.baseModel()) : null);
    }

    @Override
    public void check(TrainingConfig config) {
        if (config.objective().kind() != TrainingConfig.Objective.Kind.CAUSAL_LM) {
            throw new IllegalArgumentException("--objective " + config.objective().kind().cliName() + " trains an"
                    + " encoder's prompt, but " + model.name()
                    + " is a causal language model; use --objective causal-lm"
                    + " (the default) with it, or give an encoder (BERT) model");
        }
        int room = model.contextLength() - config.virtualTokens();
        if (room < 1) {
            throw new IllegalArgumentException("--virtual-tokens " + config.virtualTokens()
                    + " leaves no room for tokens in "
                    + model.name() + ", which reads at most " + model.contextLength() + " positions");
        }
        if (config.maxLength() > room) {
            throw new IllegalArgumentException("--max-length " + config.maxLength() + " is more than the " + room
                    + " tokens that fit after " + config.virtualTokens() + " virtual tokens in " + model.name()
                    + "'s context of "
                    + model.contextLength());
        }
        for (List<Example> set : List.of(data.train(), data.eval())) {
            for (Example example : set) {
                if (example.length() > room) {
                    throw new IllegalArgumentException("an example has " + example.length() + " tokens, more than the "
                            + room + " that fit after the prompt; read the data with a maximum length of " + room);
                }
            }
        }
    }

    @Override
    public int trainSize() {
        return data.train().size();
    }

    @Override
    public int evalSize() {
        return data.eval().size();
    }

    @Override
    public String dataDescription() {
        return data.description();
    }

    @Override
    public String dataFingerprint() {
        return data.fingerprint();
    }

    @Override
    public Batch trainBatch(int[] indices, int promptRows) {
        List<Example> examples = new ArrayList<>(indices.length);
        for (int i : indices) examples.add(data.train().get(i));
        return new Batch(model, RightPadding.batch(examples, padId), promptRows);
    }

    @Override
    public Batch evalBatch(int from, int to, int promptRows) {
        return new Batch(model, RightPadding.batch(data.eval().subList(from, to), padId), promptRows);
    }
}
