package dev.promptgrad.cuda;

import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Skips a test class that needs a GPU, with {@link CudaAvailability}'s one-line reason, when the CUDA backend
 * cannot open here (a laptop, CI). With {@code -Dpromptgrad.requireCuda=true} (the device check) it never skips,
 * so a machine that should have a usable GPU fails loudly instead.
 */
final class RequiresCuda implements ExecutionCondition {

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        CudaAvailability.Report report = CudaAvailability.probe();
        if (report.usable()) return ConditionEvaluationResult.enabled("CUDA: " + report.describe());
        if (Boolean.getBoolean("promptgrad.requireCuda")) {
            return ConditionEvaluationResult.enabled("promptgrad.requireCuda is set, so the tests run (and fail): "
                    + report.reason());
        }
        return ConditionEvaluationResult.disabled("skipped: " + report.reason());
    }
}
