package dev.promptgrad.optim;

import java.util.List;
import java.util.OptionalDouble;

/**
 * Adafactor (Shazeer &amp; Stern 2018) as Hugging Face transformers implements it
 * ({@code transformers.optimization.Adafactor.step}), with the learning rate always given by the caller
 * (relative_step=False, warmup_init=False: HF's internal step-size schedule is not offered). Parameters of
 * rank ≥ 2 keep factored second moments (row and column running averages over the last two dimensions,
 * batched over the leading ones), others a full one. {@link Settings#LESTER_PROMPT_TUNING} is the prompt
 * tuning recipe of Lester et al. 2021, used with a constant rate of {@link #LESTER_LEARNING_RATE}.
 *
 * <p>Element-wise arithmetic is float32 in HF's operation order, with torch's CPU fused multiply-adds for
 * {@code add_(x, alpha=a)}. The reductions (row/column means, RMS) are summed in double and rounded once;
 * torch sums them in float32 in a size-dependent blocked order that is not reproduced, so results agree with
 * torch to rounding (within 4e-7 relative on the fixtures from tools/optimizer_fixtures.py), not bit for bit.
 */
public final class Adafactor extends SlotOptimizer implements Optimizer {

    /** The learning rate of Lester et al.'s prompt tuning, used as a constant schedule. */
    public static final double LESTER_LEARNING_RATE = 0.3;

    /**
     * Hyper-parameters with HF's names: {@code eps = (eps1, eps2)}, clip_threshold, decay_rate (β2 at step t is
     * {@code 1 − t^decayRate}), beta1 (empty: no first moment), weight_decay, scale_parameter (multiply the
     * rate by max(eps2, RMS(p))).
     */
    public record Settings(double eps1, double eps2, double clipThreshold, double decayRate, OptionalDouble beta1,
                           double weightDecay, boolean scaleParameter) {

        /**
         * Lester et al. 2021: scale_parameter=False, relative_step=False, warmup_init=False, decay_rate −0.8,
         * clip_threshold 1.0, beta1 None, weight_decay 1e-5, eps (1e-30, 1e-3); with lr 0.3 constant.
         */
        public static final Settings LESTER_PROMPT_TUNING =
                new Settings(1e-30, 1e-3, 1.0, -0.8, OptionalDouble.empty(), 1e-5, false);

        /** transformers' constructor defaults (with an external rate): scale_parameter=True, no weight decay. */
        public static final Settings HF_DEFAULTS =
                new Settings(1e-30, 1e-3, 1.0, -0.8, OptionalDouble.empty(), 0.0, true);

        public Settings {
            if (!(eps1 >= 0 && Double.isFinite(eps1))) throw bad("eps1 " + eps1 + " must be a finite number >= 0");
            if (!(eps2 >= 0 && Double.isFinite(eps2))) throw bad("eps2 " + eps2 + " must be a finite number >= 0");
            if (!(clipThreshold > 0 && Double.isFinite(clipThreshold))) {
                throw bad("clip threshold " + clipThreshold + " must be a finite number > 0");
            }
            if (!(decayRate < 0 && Double.isFinite(decayRate))) {
                throw bad("decay rate " + decayRate + " must be negative (beta2 at step t is 1 - t^decayRate; "
                        + "Lester et al. use -0.8)");
            }
            if (beta1 == null) throw bad("beta1 must be OptionalDouble.empty() for no first moment, not null");
            if (beta1.isPresent() && !(beta1.getAsDouble() >= 0 && beta1.getAsDouble() < 1)) {
                throw bad("beta1 " + beta1.getAsDouble() + " must lie in [0, 1)");
            }
            if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) {
                throw bad("weight decay " + weightDecay + " must be a finite number >= 0");
            }
        }

        private static IllegalArgumentException bad(String message) {
            return new IllegalArgumentException("adafactor: " + message);
        }
    }

    private final Settings settings;
    private final float[][] expAvg;       // per parameter, (size) or null without beta1
    private final float[][] expAvgSq;     // per non-factored parameter, (size); null when factored
    private final float[][] expAvgSqRow;  // per factored parameter, (batch, rows); null otherwise
    private final float[][] expAvgSqCol;  // per factored parameter, (batch, cols); null otherwise
    private final float[] updateBuffer;   // (largest parameter size): a step's update, reused

    public Adafactor(List<Parameter> parameters, Settings settings) {
        super(parameters, "adafactor");
        if (settings == null) throw new IllegalArgumentException("adafactor: settings are required");
        this.settings = settings;
        List<Parameter> ps = parameters();
        expAvg = new float[ps.size()][];
        expAvgSq = new float[ps.size()][];
        expAvgSqRow = new float[ps.size()][];
        expAvgSqCol = new float[ps.size()][];
        updateBuffer = new float[ps.stream().mapToInt(Parameter::size).max().orElseThrow()];
        for (int i = 0; i < ps.size(); i++) {
            Parameter p = ps.get(i);
            if (settings.beta1().isPresent()) expAvg[i] = addSlot(p, "exp_avg", p.size());
            if (factored(p)) {
                expAvgSqRow[i] = addSlot(p, "exp_avg_sq_row", p.size() / p.dim(-1));  // shape[:-1]
                expAvgSqCol[i] = addSlot(p, "exp_avg_sq_col", p.size() / p.dim(-2));  // shape[:-2] + shape[-1:]
            } else {
                expAvgSq[i] = addSlot(p, "exp_avg_sq", p.size());
            }
        }
    }

    /** Lester et al.'s prompt-tuning Adafactor; use it with a constant rate of {@link #LESTER_LEARNING_RATE}. */
    public static Adafactor lesterPromptTuning(Parameter... parameters) {
        return new Adafactor(List.of(parameters), Settings.LESTER_PROMPT_TUNING);
    }

    /** HF: factored = len(param_shape) >= 2. */
    static boolean factored(Parameter p) {
        return p.rank() >= 2;
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public String name() {
        return "adafactor";
    }

    @Override
    void update(int index, float[] param, float[] grad, double lr, int step) {
        Parameter parameter = parameters().get(index);
        int n = param.length;
        // lr = max(eps[1], RMS(p)) * lr when scale_parameter. Python's max keeps eps[1] (a double) unless the
        // 0-dim float32 tensor RMS(p) is larger; then lr, and -weight_decay * lr below, are float32 products.
        double rate = lr;
        boolean rateIsFloat32Tensor = false;
        if (settings.scaleParameter()) {
            float rms = rms(param, n);
            if (rms > (float) settings.eps2()) {
                rate = rms * (float) lr;
                rateIsFloat32Tensor = true;
            } else {
                rate = settings.eps2() * lr;
            }
        }
        float rateF = (float) rate;
        double beta2t = 1.0 - Math.pow(step, settings.decayRate());  // 1.0 - math.pow(step, decay_rate)
        float keep = (float) beta2t, mix = (float) (1.0 - beta2t);
        float eps1 = (float) settings.eps1();
        float[] update = updateBuffer;  // (n): its first n floats

        for (int i = 0; i < n; i++) update[i] = grad[i] * grad[i] + eps1;  // update = grad**2 + eps[0]

        if (factored(parameter)) {
            int cols = parameter.dim(-1), rows = parameter.dim(-2), batch = n / (rows * cols);
            float[] row = expAvgSqRow[index], col = expAvgSqCol[index];  // (batch, rows), (batch, cols)
            for (int b = 0; b < batch; b++) {
                int base = b * rows * cols;
                // exp_avg_sq_row.mul_(beta2t).add_(update.mean(dim=-1), alpha=1.0 - beta2t)
                for (int r = 0; r < rows; r++) {
                    double sum = 0;
                    for (int c = 0; c < cols; c++) sum += update[base + r * cols + c];
                    float mean = (float) (sum / cols);
                    row[b * rows + r] = Math.fma(mean, mix, row[b * rows + r] * keep);
                }
                // exp_avg_sq_col.mul_(beta2t).add_(update.mean(dim=-2), alpha=1.0 - beta2t)
                for (int c = 0; c < cols; c++) {
                    double sum = 0;
                    for (int r = 0; r < rows; r++) sum += update[base + r * cols + c];
                    float mean = (float) (sum / rows);
                    col[b * cols + c] = Math.fma(mean, mix, col[b * cols + c] * keep);
                }
                // _approx_sq_grad: r_factor = (row / row.mean(dim=-1, keepdim=True)).rsqrt_(); c_factor = col.rsqrt()
                double rowSum = 0;
                for (int r = 0; r < rows; r++) rowSum += row[b * rows + r];
                float rowMean = (float) (rowSum / rows);
                for (int r = 0; r < rows; r++) {
                    float rowFactor = rsqrt(row[b * rows + r] / rowMean);
                    for (int c = 0; c < cols; c++) {
                        int i = base + r * cols + c;
                        // update = torch.mul(r_factor, c_factor); update.mul_(grad)
                        update[i] = rowFactor * rsqrt(col[b * cols + c]) * grad[i];
                    }
                }
            }
        } else {
            float[] v = expAvgSq[index];
            for (int i = 0; i < n; i++) {
                v[i] = Math.fma(update[i], mix, v[i] * keep);  // exp_avg_sq.mul_(beta2t).add_(update, alpha=1.0 - beta2t)
                update[i] = rsqrt(v[i]) * grad[i];               // update = exp_avg_sq.rsqrt().mul_(grad)
            }
        }

        // update.div_((RMS(update) / clip_threshold).clamp_(min=1.0))
        float clip = Math.max(rms(update, n) / (float) settings.clipThreshold(), 1.0f);
        for (int i = 0; i < n; i++) update[i] = update[i] / clip * rateF;  // ...; update.mul_(lr)

        if (settings.beta1().isPresent()) {
            double beta1 = settings.beta1().getAsDouble();
            float b1 = (float) beta1, oneMinusB1 = (float) (1 - beta1);
            float[] m = expAvg[index];
            for (int i = 0; i < n; i++) {
                m[i] = Math.fma(update[i], oneMinusB1, m[i] * b1);  // exp_avg.mul_(beta1).add_(update, alpha=1 - beta1)
                update[i] = m[i];                                   // update = exp_avg
            }
        }
        if (settings.weightDecay() != 0) {
            // p.add_(p, alpha=-weight_decay * lr)
            float decay = rateIsFloat32Tensor
                    ? (float) -settings.weightDecay() * rateF
                    : (float) (-settings.weightDecay() * rate);
            for (int i = 0; i < n; i++) param[i] = Math.fma(param[i], decay, param[i]);
        }
        for (int i = 0; i < n; i++) param[i] = param[i] - update[i];  // p.add_(-update)
    }

    /** HF's _rms of the first n values: tensor.norm(2) / numel ** 0.5, the norm summed in double, rounded to float. */
    private static float rms(float[] values, int n) {
        double sumSq = 0;
        for (int i = 0; i < n; i++) sumSq += (double) values[i] * values[i];
        float norm = (float) Math.sqrt(sumSq);
        return norm / (float) Math.sqrt(n);
    }

    /** torch's float32 rsqrt: 1 / sqrt(x), each correctly rounded. */
    private static float rsqrt(float x) {
        return 1.0f / (float) Math.sqrt(x);
    }
}
