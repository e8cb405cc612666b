package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * RMSNorm over the last dimension with a frozen weight (Llama): {@code y = x · rstd · weight},
 * {@code rstd = 1/√(mean(x²) + eps)}. Only dx is ever computed. Forward saves each row's rstd for backward,
 * and only when x needs a gradient. Derivation: docs/autograd.md#rmsnorm.
 */
public final class RmsNorm implements Function {

    private final Tape tape;
    private final Tensor x;       // (rows, dim)
    private final Tensor weight;  // (dim)
    private final Tensor rstd;    // (rows)

    private RmsNorm(Tape tape, Tensor x, Tensor weight, Tensor rstd) {
        this.tape = tape;
        this.x = x;
        this.weight = weight;
        this.rstd = rstd;
    }

    /** y = RMSNorm(x) over the last dimension. */
    public static Variable apply(Tape tape, Variable x, Tensor weight, double eps) {
        int dim = x.value().dim(-1);
        if (weight.rank() != 1 || weight.dim(0) != dim) {
            throw new IllegalArgumentException("rms norm: weight " + weight
                    + " must be a vector of the last dimension of " + x + " (" + dim + ")");
        }
        Tensor y = tape.allocate(x.shape());
        Tensor rstd = x.requiresGrad() ? tape.allocate(x.value().rows()) : null;
        // PyTorch (HF LlamaRMSNorm): y = weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
        tape.backend().rmsNorm(x.value(), weight, eps, y, rstd);
        return tape.record(new RmsNorm(tape, x.value(), weight, rstd), y, x);
    }

    @Override
    public String name() {
        return "rms_norm";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // dx = (1) rstd · g − (2) x · rstd³ · mean(g · x), g = dy · weight:
        // (1) the direct path through x, (2) through rstd
        tape.backend().rmsNormBackward(x, weight, rstd, dOut, grads.into(0));
    }
}
