package dev.promptgrad.train;

import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * The first values of a trained prompt, from a {@link TrainingConfig.Init}: sample-vocab and random draw with
 * the run's seed ({@link PromptInit.SampledVocab}, {@link PromptInit.RandomNormal}), text is PEFT's TEXT
 * ({@link PromptInit.TextRepeated}), labels is Lester et al.'s class-label init over the training data's
 * distinct outputs ({@link PromptInit.ClassLabels}), and adapter copies an existing PEFT adapter's prompt.
 */
public final class InitialPrompt {

    private InitialPrompt() {
    }

    /**
     * The starting prompt, (virtual tokens, dim).
     *
     * @param tokenizer null without one (a text init then fails, saying so)
     * @param bosEos    the tokenizer's special tokens around a text
     */
    public static PromptInit.Initial of(TrainingConfig config, LanguageModel model, Tokenizer tokenizer,
                                        BosEosRule bosEos, TrainingData data) {
        int rows = config.virtualTokens();
        TrainingConfig.Init init = config.init();
        if (init.kind() == TrainingConfig.Init.Kind.TEXT && tokenizer == null) {
            throw new IllegalArgumentException("--init " + init.spec() + " needs a tokenizer to encode its text, and "
                    + model.name() + " has none; pass --tokenizer, or use sample-vocab, labels or random");
        }
        return switch (init.kind()) {
            case SAMPLE_VOCAB -> drawn(new PromptInit.SampledVocab(config.seed(), rows), model, tokenizer);
            case RANDOM -> drawn(new PromptInit.RandomNormal(config.seed(), rows), model, tokenizer);
            case TEXT -> drawn(new PromptInit.TextRepeated(init.argument(), rows, bosEos), model, tokenizer);
            case LABELS -> {
                OptionalInt eos = tokenizer == null ? OptionalInt.empty() : tokenizer.eos();
                PromptInit labels = new PromptInit.ClassLabels(data.distinctLabels(eos), config.seed(), rows);
                yield drawn(labels, model, tokenizer);
            }
            case ADAPTER -> fromAdapter(Path.of(init.argument()), rows, model);
        };
    }

    private static PromptInit.Initial drawn(PromptInit start, LanguageModel model, Tokenizer tokenizer) {
        Tensor table = model.embeddingTable();   // (vocab, dim)
        return start.initialise(model.dim(), model.vocabSize(), tokenizer,
                id -> model.backend().download(table.select(id)));
    }

    private static PromptInit.Initial fromAdapter(Path folder, int rows, LanguageModel model) {
        PeftAdapter adapter = PeftAdapter.read(folder).requireWidth(model.dim(), model.name());
        if (adapter.virtualTokens() != rows) {
            throw new IllegalArgumentException("--init adapter:" + folder + " holds " + adapter.virtualTokens()
                    + " virtual tokens, but the run asks for " + rows + "; give --virtual-tokens "
                    + adapter.virtualTokens());
        }
        return new PromptInit.Initial(rows, model.dim(), adapter.embeddings(), new int[0]);
    }
}
