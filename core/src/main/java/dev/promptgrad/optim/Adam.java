package dev.promptgrad.optim;

import java.util.List;

/**
 * Adam, as torch.optim.AdamW (decoupled weight decay, {@link WeightDecay#DECOUPLED}) or torch.optim.Adam
 * (L2 penalty added to the gradient, {@link WeightDecay#L2}); torch 1.13's single-tensor path, without
 * amsgrad, maximize or capturable. State slots per parameter: {@code exp_avg}, {@code exp_avg_sq}.
 *
 * <p>Arithmetic is float32 in torch's operation order, with the scalar coefficients computed in double and
 * rounded to float as torch's CPU kernels do, and a fused multiply-add wherever torch's AVX2 kernels use one
 * ({@code add_(x, alpha=a)} is {@code fma(x, a, self)}; {@code addcmul_} fuses its final add). With that,
 * the trajectories match torch 1.13 on CPU bit for bit (the fixtures from tools/optimizer_fixtures.py).
 */
public final class Adam extends SlotOptimizer implements Optimizer {

    /** Where the weight decay acts. */
    public enum WeightDecay {
        /** torch.optim.AdamW: p ← p − lr·wd·p before the moments (Loshchilov &amp; Hutter). */
        DECOUPLED,
        /** torch.optim.Adam: g ← g + wd·p, an L2 penalty the moments then see. */
        L2
    }

    /** Hyper-parameters; torch's names in the comments. */
    public record Settings(double beta1, double beta2, double eps, double weightDecay, WeightDecay decay) {
        /** torch.optim.AdamW's defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0.01. */
        public static final Settings ADAMW = new Settings(0.9, 0.999, 1e-8, 0.01, WeightDecay.DECOUPLED);
        /** torch.optim.Adam's defaults: betas (0.9, 0.999), eps 1e-8, weight_decay 0. */
        public static final Settings ADAM = new Settings(0.9, 0.999, 1e-8, 0.0, WeightDecay.L2);

        public Settings {
            checkBeta("beta1", beta1);
            checkBeta("beta2", beta2);
            if (!(eps >= 0 && Double.isFinite(eps))) {
                throw new IllegalArgumentException("adam: eps " + eps + " must be a finite number >= 0");
            }
            if (!(weightDecay >= 0 && Double.isFinite(weightDecay))) {
                throw new IllegalArgumentException("adam: weight decay " + weightDecay + " must be a finite number >= 0");
            }
            if (decay == null) throw new IllegalArgumentException("adam: choose a weight decay mode (DECOUPLED or L2)");
        }

        private static void checkBeta(String name, double beta) {
            if (!(beta >= 0 && beta < 1)) {
                throw new IllegalArgumentException("adam: " + name + " " + beta + " must lie in [0, 1)");
            }
        }

        public Settings withWeightDecay(double weightDecay) {
            return new Settings(beta1, beta2, eps, weightDecay, decay);
        }
    }

    private final Settings settings;
    private final float[][] expAvg;    // per parameter, (size): first moment m
    private final float[][] expAvgSq;  // per parameter, (size): second moment v

    public Adam(List<Parameter> parameters, Settings settings) {
        super(parameters, settings == null || settings.decay() == WeightDecay.DECOUPLED ? "adamw" : "adam");
        if (settings == null) throw new IllegalArgumentException("adam: settings are required");
        this.settings = settings;
        List<Parameter> ps = parameters();
        expAvg = new float[ps.size()][];
        expAvgSq = new float[ps.size()][];
        for (int i = 0; i < ps.size(); i++) {
            expAvg[i] = addSlot(ps.get(i), "exp_avg", ps.get(i).size());
            expAvgSq[i] = addSlot(ps.get(i), "exp_avg_sq", ps.get(i).size());
        }
    }

    /** torch.optim.AdamW with its defaults. */
    public static Adam adamW(Parameter... parameters) {
        return new Adam(List.of(parameters), Settings.ADAMW);
    }

    /** torch.optim.Adam (L2 weight decay) with its defaults. */
    public static Adam adam(Parameter... parameters) {
        return new Adam(List.of(parameters), Settings.ADAM);
    }

    public Settings settings() {
        return settings;
    }

    @Override
    public String name() {
        return settings.decay() == WeightDecay.DECOUPLED ? "adamw" : "adam";
    }

    @Override
    void update(int index, float[] param, float[] grad, double lr, int step) {
        float[] m = expAvg[index], v = expAvgSq[index];
        double beta1 = settings.beta1(), beta2 = settings.beta2(), wd = settings.weightDecay();
        boolean decoupled = settings.decay() == WeightDecay.DECOUPLED;

        float keep = (float) (1 - lr * wd);                    // param.mul_(1 - lr * weight_decay)
        float l2 = (float) wd;                                  // grad = grad.add(param, alpha=weight_decay)
        float b1 = (float) beta1, oneMinusB1 = (float) (1 - beta1);
        float b2 = (float) beta2, oneMinusB2 = (float) (1 - beta2);
        double biasCorrection1 = 1 - Math.pow(beta1, step);     // 1 - beta1 ** step
        double biasCorrection2 = 1 - Math.pow(beta2, step);     // 1 - beta2 ** step
        float negStepSize = (float) -(lr / biasCorrection1);    // value=-step_size, step_size = lr / bias_correction1
        float bc2Sqrt = (float) Math.sqrt(biasCorrection2);     // math.sqrt(bias_correction2)
        float eps = (float) settings.eps();

        for (int i = 0; i < param.length; i++) {
            float p = param[i];
            float g = grad[i];
            if (decoupled) {
                if (wd != 0) p = p * keep;
            } else if (wd != 0) {
                g = Math.fma(p, l2, g);
            }
            // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
            m[i] = Math.fma(g, oneMinusB1, m[i] * b1);
            // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            v[i] = Math.fma(oneMinusB2 * g, g, v[i] * b2);
            // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            float denom = (float) Math.sqrt(v[i]) / bc2Sqrt + eps;
            // param.addcdiv_(exp_avg, denom, value=-step_size)
            param[i] = p + negStepSize * m[i] / denom;
        }
    }
}
