package dev.promptgrad.optim;

import java.util.List;

/**
 * Rescales gradients so their global L2 norm is at most a bound, as torch.nn.utils.clip_grad_norm_ does
 * (norm_type 2, error_if_nonfinite=False, except for non-finite norms: see {@link #clipByGlobalNorm}).
 * It works on host float[] gradients before an optimizer step; it is not an optimizer and keeps no state.
 */
public final class GradientClipping {

    private GradientClipping() {
    }

    /**
     * Scales every gradient in place by {@code maxNorm / (total + 1e-6)} when that coefficient is below 1,
     * where {@code total} is the L2 norm of all gradients together, as if concatenated; returns {@code total}.
     * The norm and coefficient are computed in double (torch: float32), the scaling in float32 as torch's
     * {@code g.mul_(clip_coef)}, so results agree with torch to about one float32 ulp.
     *
     * <p>If the norm is NaN or infinite (a gradient holds NaN or ±Inf) the gradients are left untouched and
     * the non-finite norm is returned: test it with {@link Double#isFinite} and decide (skip the step, stop
     * with a message naming the step). torch would instead scale every gradient by NaN or 0.
     *
     * @throws IllegalArgumentException if {@code maxNorm} is not a finite number &gt; 0 or a gradient is null
     */
    public static double clipByGlobalNorm(List<float[]> grads, double maxNorm) {
        if (!(maxNorm > 0 && Double.isFinite(maxNorm))) {
            throw new IllegalArgumentException("gradient clipping: max norm " + maxNorm + " must be a finite number > 0");
        }
        if (grads == null) throw new IllegalArgumentException("gradient clipping: no gradients given");
        double sumSq = 0;
        for (int k = 0; k < grads.size(); k++) {
            float[] g = grads.get(k);
            if (g == null) throw new IllegalArgumentException("gradient clipping: gradient " + k + " of " + grads.size() + " is null");
            for (float x : g) sumSq += (double) x * x;
        }
        double total = Math.sqrt(sumSq);  // total_norm = torch.norm(torch.stack([torch.norm(g, 2) for g in grads]), 2)
        if (!Double.isFinite(total)) return total;
        double coefficient = maxNorm / (total + 1e-6);  // clip_coef = max_norm / (total_norm + 1e-6)
        if (coefficient < 1) {                          // clip_coef_clamped = torch.clamp(clip_coef, max=1.0)
            float scale = (float) coefficient;
            for (float[] g : grads) {
                for (int i = 0; i < g.length; i++) g[i] *= scale;  // g.mul_(clip_coef_clamped)
            }
        }
        return total;
    }

    /** {@link #clipByGlobalNorm(List, double)} for a single gradient (the usual prompt). */
    public static double clipByGlobalNorm(float[] grad, double maxNorm) {
        if (grad == null) throw new IllegalArgumentException("gradient clipping: gradient is null");
        return clipByGlobalNorm(List.of(grad), maxNorm);
    }
}
