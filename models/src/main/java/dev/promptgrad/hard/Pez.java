package dev.promptgrad.hard;

import dev.promptgrad.data.Example;
import dev.promptgrad.optim.Adafactor;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Optimizer;
import dev.promptgrad.optim.Parameter;

import java.util.Arrays;
import java.util.List;

/**
 * PEZ (Wen et al. 2023, "Hard Prompts Made Easy"): keeps a continuous prompt P (tokens, dim); each step projects
 * every row to its nearest allowed token by cosine similarity, runs forward and backward at the projected prompt,
 * and applies that gradient to P itself (the straight-through update of their Algorithm 1). The prompt it stands
 * at is always the projection, so every loss it reports is a real token sequence's. Defaults: AdamW with lr 0.1
 * and weight decay 0.1 (their settings); Adafactor with lr 0.3 (Lester et al.'s settings otherwise).
 */
public final class Pez implements HardPromptMethod {

    /** The optimizer that moves the continuous prompt. */
    public enum OptimizerKind { ADAMW, ADAFACTOR }

    /** @param weightDecay AdamW's decoupled decay, or Adafactor's */
    public record Settings(OptimizerKind optimizer, double lr, double weightDecay) {
        /** Wen et al.: AdamW, lr 0.1, weight decay 0.1. */
        public static final Settings ADAMW = new Settings(OptimizerKind.ADAMW, 0.1, 0.1);
        /** Adafactor at lr 0.3 with Lester et al.'s prompt-tuning settings (weight decay 1e-5). */
        public static final Settings ADAFACTOR = new Settings(OptimizerKind.ADAFACTOR, 0.3,
                Adafactor.Settings.LESTER_PROMPT_TUNING.weightDecay());

        public Settings {
            if (optimizer == null) throw new IllegalArgumentException("pez: choose an optimizer (ADAMW or ADAFACTOR)");
            if (!(lr > 0 && Double.isFinite(lr))) throw new IllegalArgumentException("pez: lr " + lr + " must be > 0");
            if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) {
                throw new IllegalArgumentException("pez: weight decay " + weightDecay + " must be >= 0");
            }
        }
    }

    private final PromptObjective objective;
    private final VocabularyIndex index;
    private final Settings settings;
    private final int tokens;
    private final float[] prompt;       // (tokens, dim): the continuous prompt P
    private final Optimizer optimizer;
    private int[] projected;            // (tokens): nearest allowed token of each row of P

    /** Starts P at the embeddings of {@code initial} (PEZ's init: the embeddings of sampled token ids). */
    public Pez(PromptObjective objective, VocabularyIndex index, int[] initial, Settings settings) {
        if (initial.length < 1) throw new IllegalArgumentException("pez: a prompt needs at least one token");
        this.objective = objective;
        this.index = index;
        this.settings = settings;
        this.tokens = initial.length;
        this.prompt = index.embeddings(initial);
        Parameter parameter = Parameter.of("prompt_embeddings", tokens, index.dim());
        this.optimizer = switch (settings.optimizer()) {
            case ADAMW -> new Adam(List.of(parameter), Adam.Settings.ADAMW.withWeightDecay(settings.weightDecay()));
            case ADAFACTOR -> {
                Adafactor.Settings s = Adafactor.Settings.LESTER_PROMPT_TUNING;
                yield new Adafactor(List.of(parameter), new Adafactor.Settings(s.eps1(), s.eps2(), s.clipThreshold(),
                        s.decayRate(), s.beta1(), settings.weightDecay(), s.scaleParameter()));
            }
        };
        this.projected = index.nearest(prompt, tokens);
    }

    @Override
    public String name() {
        return "pez";
    }

    @Override
    public int[] current() {
        return projected.clone();
    }

    /** The continuous prompt P (tokens, dim); a copy. */
    public float[] continuous() {
        return prompt.clone();
    }

    @Override
    public double step(List<Example> batch) {
        // PEZ: P' = Proj_E(P); g = ∇_{P'} L(P'); P ← P − lr · update(g)
        PromptObjective.Gradient gradient = objective.gradient(projected, batch);
        if (!Double.isFinite(gradient.loss())) {
            throw new IllegalStateException("pez: the loss is " + gradient.loss() + " at prompt "
                    + Arrays.toString(projected));
        }
        for (float g : gradient.dPromptRows()) {
            if (!Float.isFinite(g)) throw new IllegalStateException("pez: the gradient is not finite at loss " + gradient.loss());
        }
        optimizer.step(prompt, gradient.dPromptRows(), settings.lr());
        projected = index.nearest(prompt, tokens);
        return gradient.loss();
    }
}
