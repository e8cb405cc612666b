package dev.promptgrad.demo;

import dev.promptgrad.embedding.ClassifyObjective;
import dev.promptgrad.embedding.EncoderData;
import dev.promptgrad.embedding.LabelledText;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.train.PromptTrainer;
import dev.promptgrad.train.TrainingConfig;
import dev.promptgrad.train.TrainingListener;
import dev.promptgrad.train.TrainingResult;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The offline quickstart's task, end to end: sort short English texts into five topics (sports, cooking,
 * technology, health, travel) with all-MiniLM-L6-v2 and a soft prompt trained by {@code --objective classify}. The
 * 300 texts were written for promptgrad and ship in this jar: 36 per topic to train on, 24 per topic held out.
 * {@link #run} measures held-out accuracy with no prompt (nearest label text), trains the prompt on the training
 * texts only, and measures held-out accuracy again with the final prompt, so the held-out texts never choose
 * anything. It prints nothing; {@code promptgrad demo} and its test call it.
 */
public final class TopicDemo {
    public static final String TRAIN_RESOURCE = "/dev/promptgrad/demo/topics-train.jsonl";
    public static final String HELD_OUT_RESOURCE = "/dev/promptgrad/demo/topics-heldout.jsonl";
    /**
     * What each topic name is compared as ("sports topic", …): of the label texts measured in docs/encoders.md, the
     * one whose trained prompt did best (and whose zero-shot baseline is the strongest too).
     */
    public static final String LABEL_TEXT = "{label} topic";
    public static final int VIRTUAL_TOKENS = 8;
    public static final int BATCH = 16;
    public static final double LEARNING_RATE = 0.05;
    public static final int STEPS = 60;

    /**
     * How the run went.
     *
     * @param before   held-out accuracy with no prompt: the zero-shot baseline
     * @param after    held-out accuracy with the trained prompt
     * @param training the trainer's summary, with the adapter folder
     * @param seconds  wall-clock seconds of the training alone
     */
    public record Result(ClassifyObjective.Accuracy before, ClassifyObjective.Accuracy after, List<String> labels,
                         TrainingResult training, double seconds) {
    }

    private TopicDemo() {
    }

    /** The shipped training and held-out texts. */
    public static EncoderData<LabelledText> data() {
        return EncoderData.of(
                EncoderData.labelledLines(resource(TRAIN_RESOURCE), "classpath:" + TRAIN_RESOURCE.substring(1)),
                EncoderData.labelledLines(resource(HELD_OUT_RESOURCE), "classpath:" + HELD_OUT_RESOURCE.substring(1)),
                "the demo's topic texts (180 to train on, 120 held out)");
    }

    /**
     * The demo's training settings: {@value #VIRTUAL_TOKENS} virtual tokens from sampled vocabulary rows, AdamW at
     * {@value #LEARNING_RATE} with a cosine schedule, batch {@value #BATCH}, {@code steps} steps, the classify
     * objective with {@code placement} and label text {@value #LABEL_TEXT}.
     */
    public static TrainingConfig config(String baseModel, int steps, long seed, PromptPlacement placement) {
        return TrainingConfig.builder(baseModel)
                .virtualTokens(VIRTUAL_TOKENS)
                .lr(LEARNING_RATE)
                .schedule("cosine")
                .batch(BATCH)
                .steps(steps)
                .seed(seed)
                .objective(TrainingConfig.Objective.of(TrainingConfig.Objective.Kind.CLASSIFY, placement, null,
                        LABEL_TEXT))
                .build();
    }

    /**
     * Measures, trains into {@code out} (missing or empty) and measures again.
     *
     * @param stop set it to end training after the current step (the adapter is then the prompt so far)
     */
    public static Result run(Encoder encoder, TrainingConfig config, Path out, TrainingListener listener,
                             AtomicBoolean stop) {
        EncoderData<LabelledText> data = data();
        ClassifyObjective measured = new ClassifyObjective(encoder, data, config.objective());
        ClassifyObjective.Accuracy before = measured.heldOutAccuracy(null);
        // the trainer sees the training texts only: no held-out loss, no best-prompt choice on held-out texts
        ClassifyObjective trained = new ClassifyObjective(encoder,
                EncoderData.of(data.train(), List.of(), "the demo's 180 training texts"), config.objective());
        if (!trained.labels().equals(measured.labels())) {
            throw new IllegalStateException("the training texts do not hold every topic: " + trained.labels());
        }
        PromptInit.Initial initial = trained.initialPrompt(config);
        long started = System.nanoTime();
        TrainingResult training = new PromptTrainer(trained, config, listener).train(out, initial, stop);
        double seconds = (System.nanoTime() - started) / 1e9;
        float[] prompt = PeftAdapter.read(out).embeddings();
        ClassifyObjective.Accuracy after = measured.heldOutAccuracy(prompt);
        return new Result(before, after, measured.labels(), training, seconds);
    }

    private static byte[] resource(String name) {
        try (InputStream in = TopicDemo.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(name + " is missing from the classpath; rebuild promptgrad");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + name + ": " + e.getMessage(), e);
        }
    }
}
