package dev.promptgrad.optim;

import java.util.Locale;

/**
 * The learning rate for each optimizer step, as Hugging Face transformers' schedules give it through
 * torch's LambdaLR: {@code rate(step) = lr · lambda(step)}, step counted from 0 (the first optimizer step
 * uses {@code rate(0)}, so a warm-up starts at rate 0). Computed in double exactly as HF's lambdas. It only
 * maps steps to rates; it does not step an optimizer or keep state.
 */
public sealed interface LearningRateSchedule {

    /** The names {@link #parse} accepts, canonical first. */
    String NAMES = "constant, warmup-constant (constant_with_warmup), linear, cosine";

    /** The rate for the optimizer step with 0-based index {@code step}. */
    double rate(int step);

    /** The canonical name ({@link #parse} reads it back). */
    String name();

    /** The peak (base) learning rate. */
    double lr();

    /** get_constant_schedule: {@code lr} at every step. */
    record Constant(double lr) implements LearningRateSchedule {
        public Constant {
            checkLr(lr);
        }

        @Override
        public double rate(int step) {
            checkStep(step);
            return lr;
        }

        @Override
        public String name() {
            return "constant";
        }
    }

    /** get_constant_schedule_with_warmup: 0 → lr linearly over {@code warmupSteps}, then lr. */
    record WarmupConstant(double lr, int warmupSteps) implements LearningRateSchedule {
        public WarmupConstant {
            checkLr(lr);
            if (warmupSteps < 0) throw negativeWarmup(warmupSteps);
        }

        @Override
        public double rate(int step) {
            checkStep(step);
            return step < warmupSteps ? lr * warmupFraction(step, warmupSteps) : lr;
        }

        @Override
        public String name() {
            return "warmup-constant";
        }
    }

    /** get_linear_schedule_with_warmup: warm-up, then linear decay to 0 at {@code totalSteps}, then 0. */
    record Linear(double lr, int warmupSteps, int totalSteps) implements LearningRateSchedule {
        public Linear {
            checkLr(lr);
            checkWarmupAndTotal("linear", warmupSteps, totalSteps);
        }

        @Override
        public double rate(int step) {
            checkStep(step);
            if (step < warmupSteps) return lr * warmupFraction(step, warmupSteps);
            // max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
            return lr * Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
        }

        @Override
        public String name() {
            return "linear";
        }
    }

    /**
     * get_cosine_schedule_with_warmup: warm-up, then {@code 0.5·(1 + cos(π·cycles·2·progress))} with
     * progress 0 → 1 over the remaining steps; num_cycles 0.5 is a half cosine from lr to 0. As in HF, the
     * curve goes on past {@code totalSteps} (it rises again), so run exactly {@code totalSteps} steps.
     */
    record Cosine(double lr, int warmupSteps, int totalSteps, double cycles) implements LearningRateSchedule {
        public Cosine {
            checkLr(lr);
            checkWarmupAndTotal("cosine", warmupSteps, totalSteps);
            if (!(cycles > 0 && Double.isFinite(cycles))) {
                throw new IllegalArgumentException("cosine schedule: cycles " + cycles + " must be a finite number > 0 (HF's default is 0.5)");
            }
        }

        public Cosine(double lr, int warmupSteps, int totalSteps) {
            this(lr, warmupSteps, totalSteps, 0.5);
        }

        @Override
        public double rate(int step) {
            checkStep(step);
            if (step < warmupSteps) return lr * warmupFraction(step, warmupSteps);
            // progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
            double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
            // max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))
            return lr * Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * cycles * 2.0 * progress)));
        }

        @Override
        public String name() {
            return "cosine";
        }
    }

    static LearningRateSchedule constant(double lr) {
        return new Constant(lr);
    }

    static LearningRateSchedule warmupConstant(double lr, int warmupSteps) {
        return new WarmupConstant(lr, warmupSteps);
    }

    static LearningRateSchedule linear(double lr, int warmupSteps, int totalSteps) {
        return new Linear(lr, warmupSteps, totalSteps);
    }

    static LearningRateSchedule cosine(double lr, int warmupSteps, int totalSteps) {
        return new Cosine(lr, warmupSteps, totalSteps);
    }

    /**
     * The schedule named {@code name} (case-insensitive; see {@link #NAMES}; HF's SchedulerType spellings
     * with underscores work too). {@code totalSteps} is needed by linear and cosine only; "constant" takes no
     * warm-up (ask for "warmup-constant").
     */
    static LearningRateSchedule parse(String name, double lr, int warmupSteps, int totalSteps) {
        if (name == null) throw new IllegalArgumentException("learning-rate schedule: no name given; use one of " + NAMES);
        String key = name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        return switch (key) {
            case "constant" -> {
                if (warmupSteps != 0) {
                    throw new IllegalArgumentException("learning-rate schedule 'constant' has no warm-up but "
                            + warmupSteps + " warm-up steps were given; use 'warmup-constant'");
                }
                yield new Constant(lr);
            }
            case "warmup-constant", "constant-with-warmup" -> new WarmupConstant(lr, warmupSteps);
            case "linear" -> new Linear(lr, warmupSteps, totalSteps);
            case "cosine" -> new Cosine(lr, warmupSteps, totalSteps);
            default -> throw new IllegalArgumentException("unknown learning-rate schedule '" + name
                    + "'; use one of " + NAMES);
        };
    }

    private static double warmupFraction(int step, int warmupSteps) {
        return (double) step / Math.max(1, warmupSteps);  // float(current_step) / float(max(1, num_warmup_steps))
    }

    private static void checkLr(double lr) {
        if (!(lr > 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException("learning rate " + lr + " must be a finite number > 0");
        }
    }

    private static void checkStep(int step) {
        if (step < 0) throw new IllegalArgumentException("learning-rate schedule: step " + step + " is negative; steps count from 0");
    }

    private static IllegalArgumentException negativeWarmup(int warmupSteps) {
        return new IllegalArgumentException("learning-rate schedule: warm-up of " + warmupSteps + " steps is negative");
    }

    private static void checkWarmupAndTotal(String schedule, int warmupSteps, int totalSteps) {
        if (warmupSteps < 0) throw negativeWarmup(warmupSteps);
        if (totalSteps <= 0) {
            throw new IllegalArgumentException(schedule + " schedule: total steps " + totalSteps
                    + " must be positive (it decays to 0 at the last step)");
        }
        if (warmupSteps > totalSteps) {
            throw new IllegalArgumentException(schedule + " schedule: warm-up of " + warmupSteps
                    + " steps is longer than the " + totalSteps + " total steps");
        }
    }
}
