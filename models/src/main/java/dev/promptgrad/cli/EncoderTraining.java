package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.embedding.ClassifyObjective;
import dev.promptgrad.embedding.ContrastiveObjective;
import dev.promptgrad.embedding.EncoderData;
import dev.promptgrad.embedding.EncoderObjective;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.train.PromptTrainer;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingListener;
import dev.promptgrad.train.TrainingResult;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code promptgrad train} for an encoder objective ({@code --objective classify} or {@code contrastive}): opens the
 * encoder, reads the data in the objective's form, trains or resumes with {@link PromptTrainer}, and for classify
 * with held-out texts measures their accuracy without the prompt and with the final one. Refuses a causal LM with
 * an encoder objective, and the causal-lm objective on an encoder. The flags themselves are {@link TrainCommand}'s.
 */
final class EncoderTraining {

    /**
     * How an encoder run ended.
     *
     * @param before held-out accuracy with no prompt, or null (not classify, or no held-out texts)
     * @param after  held-out accuracy with the final prompt, or null
     */
    record Outcome(TrainingResult result, ClassifyObjective.Accuracy before, ClassifyObjective.Accuracy after) {
    }

    private EncoderTraining() {
    }

    /** Refuses {@code --objective causal-lm} (the default) on an encoder, saying which objectives it takes. */
    static void refuseEncoderForCausalLm(String model) {
        if (EncoderCatalog.isEncoder(model)) {
            throw new IllegalArgumentException("--model " + model
                    + " is an encoder (BERT), which has no next-token loss;"
                    + " train its prompt with --objective classify ({\"text\", \"label\"} lines) or --objective"
                    + " contrastive ({\"query\", \"positive\"} lines)");
        }
    }

    /** Trains (or, with {@code resume}, continues) the run {@code config} describes, checkpointing into {@code out}. */
    static Outcome run(TrainingConfig config, Path resume, Path out, Backend backend, TrainingListener listener,
                       AtomicBoolean stop) {
        TrainingConfig.Objective settings = config.objective();
        String model = config.baseModel();
        if (!EncoderCatalog.isEncoder(model)) {
            String what = Files.exists(Path.of(model)) ? model + " is a causal language model, not an encoder"
                    : model + " is neither a built-in encoder " + EncoderCatalog.names()
                    + " nor an existing folder or .onnx file";
            throw new IllegalArgumentException("--objective " + settings.kind().cliName()
                    + " trains an encoder's prompt,"
                    + " but " + what + "; give an encoder (minilm, a BERT folder or an .onnx file), or use --objective"
                    + " causal-lm with a causal LM");
        }
        if (config.tokenizer() != null) {
            throw new IllegalArgumentException("--tokenizer is for causal LMs; an encoder uses its own WordPiece"
                    + " tokenizer (tokenizer.json beside the model)");
        }
        Path trainFile = Path.of(config.trainData());
        Path evalFile = config.evalData() == null ? null : Path.of(config.evalData());
        try (Encoder encoder = EncoderCatalog.load(model, backend)) {
            EncoderObjective objective = switch (settings.kind()) {
                case CLASSIFY -> new ClassifyObjective(encoder,
                        EncoderData.labelled(trainFile, evalFile, config.evalSplit(), config.seed()), settings);
                case CONTRASTIVE -> new ContrastiveObjective(encoder,
                        EncoderData.pairs(trainFile, evalFile, config.evalSplit(), config.seed()), settings);
                case CAUSAL_LM -> throw new IllegalStateException("causal-lm is not an encoder objective");
            };
            PromptTrainer trainer = new PromptTrainer(objective, config, listener);
            TrainingResult result = resume != null ? trainer.resume(resume, out, stop)
                    : trainer.train(out, objective.initialPrompt(config), stop);
            if (!(objective instanceof ClassifyObjective classify) || classify.evalSize() == 0) {
                return new Outcome(result, null, null);
            }
            float[] prompt = PeftAdapter.read(out).embeddings();
            return new Outcome(result, classify.heldOutAccuracy(null), classify.heldOutAccuracy(prompt));
        }
    }
}
