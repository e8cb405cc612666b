package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * LayerNorm over the last dimension with a frozen scale and shift (GPT-2, BERT):
 * {@code y = (x − mean) · rstd · gamma + beta}. Only dx is ever computed; gamma and beta are frozen
 * tensors, not variables. Forward saves each row's mean and rstd for backward, and only when x needs a
 * gradient. Derivation: docs/autograd.md#layernorm.
 */
public final class LayerNorm implements Function {

    private final Tape tape;
    private final Tensor x;      // (rows, dim)
    private final Tensor gamma;  // (dim)
    private final Tensor mean;   // (rows)
    private final Tensor rstd;   // (rows)

    private LayerNorm(Tape tape, Tensor x, Tensor gamma, Tensor mean, Tensor rstd) {
        this.tape = tape;
        this.x = x;
        this.gamma = gamma;
        this.mean = mean;
        this.rstd = rstd;
    }

    /** y = LayerNorm(x) over the last dimension; {@code beta} may be null (no shift). */
    public static Variable apply(Tape tape, Variable x, Tensor gamma, Tensor beta, double eps) {
        int dim = x.value().dim(-1);
        if (gamma.rank() != 1 || gamma.dim(0) != dim || (beta != null && !beta.sameShape(gamma))) {
            throw new IllegalArgumentException("layer norm: gamma " + gamma + (beta == null ? "" : " and beta " + beta)
                    + " must be vectors of the last dimension of " + x + " (" + dim + ")");
        }
        Tensor y = tape.allocate(x.shape());
        Tensor mean = null;
        Tensor rstd = null;
        if (x.requiresGrad()) {
            mean = tape.allocate(x.value().rows());
            rstd = tape.allocate(x.value().rows());
        }
        // PyTorch: y = F.layer_norm(x, (dim,), gamma, beta, eps)
        tape.backend().layerNorm(x.value(), gamma, beta, eps, y, mean, rstd);
        return tape.record(new LayerNorm(tape, x.value(), gamma, mean, rstd), y, x);
    }

    @Override
    public String name() {
        return "layer_norm";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // dx = rstd · ((1) g − (2) mean(g) − (3) x̂ · mean(g · x̂)), g = dy·gamma, x̂ = (x − mean)·rstd
        // (1) the direct path through x̂, (2) through the mean, (3) through rstd
        tape.backend().layerNormBackward(x, gamma, mean, rstd, dOut, grads.into(0));
    }
}
