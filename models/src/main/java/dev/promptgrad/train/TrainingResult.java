package dev.promptgrad.train;

import java.nio.file.Path;

/**
 * How a {@link PromptTrainer} run ended: why, after how many steps, with which losses, and where its last
 * checkpoint is.
 *
 * @param lastLoss     the last step's training loss; NaN if no step ran
 * @param lastEvalLoss the last held-out loss; NaN without held-out data
 * @param bestEvalLoss the lowest held-out loss (its prompt is in {@code folder/best}); NaN without held-out data
 * @param bestStep     the step of {@code bestEvalLoss}; -1 without held-out data
 */
public record TrainingResult(Checkpoint.Status status, int steps, int totalSteps, double lastLoss, double lastEvalLoss,
                             double bestEvalLoss, int bestStep, Path folder) {
}
