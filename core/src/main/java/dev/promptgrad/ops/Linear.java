package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.tensor.Tensor;

/**
 * A matrix product with a weight: {@code y = x · W} (Hugging Face GPT-2's Conv1D, W stored [in, out]) or
 * {@code y = x · Wᵀ} (torch.nn.Linear, W stored [out, in]). x is [..., in] and y [..., out].
 * Backward is one GEMM for dx; dW is computed only if W itself needs a gradient, which a frozen model's
 * weights never do. The bias is a separate op ({@link BiasAdd}). Derivation: docs/autograd.md#linear.
 */
public final class Linear implements Function {

    /** How the weight matrix is stored. */
    public enum Layout {
        /** W is [in, out]: y = x·W (GPT-2 Conv1D). */
        IN_OUT,
        /** W is [out, in]: y = x·Wᵀ (nn.Linear, Llama, BERT). */
        OUT_IN
    }

    private final Tape tape;
    private final Tensor x;       // (rows, in)
    private final Tensor weight;  // (in, out) or (out, in)
    private final Layout layout;
    private final int rows, in, out;

    private Linear(Tape tape, Tensor x, Tensor weight, Layout layout, int rows, int in, int out) {
        this.tape = tape;
        this.x = x;
        this.weight = weight;
        this.layout = layout;
        this.rows = rows;
        this.in = in;
        this.out = out;
    }

    /** y = x·W or x·Wᵀ over the last dimension of x. */
    public static Variable apply(Tape tape, Variable x, Variable weight, Layout layout) {
        Tensor w = weight.value();
        if (w.rank() != 2) throw new IllegalArgumentException("linear weight " + weight + " must be a matrix");
        int in = layout == Layout.IN_OUT ? w.dim(0) : w.dim(1);
        int out = layout == Layout.IN_OUT ? w.dim(1) : w.dim(0);
        if (x.value().dim(-1) != in) {
            throw new IllegalArgumentException("linear: input " + x + " has last dimension " + x.value().dim(-1)
                    + " but weight " + weight + " (" + layout + ") expects " + in);
        }
        int rows = x.value().rows();
        int[] yShape = x.shape();
        yShape[yShape.length - 1] = out;
        Tensor y = tape.allocate(yShape);
        // PyTorch: y = x @ W  (Conv1D)  |  y = x @ W.T  (nn.Linear)
        tape.backend().gemm(Gemm.of(rows, out, in, false, layout == Layout.OUT_IN), x.value(), w, y);
        return tape.record(new Linear(tape, x.value(), w, layout, rows, in, out), y, x, weight);
    }

    /** Convenience for the common case of a frozen weight tensor. */
    public static Variable apply(Tape tape, Variable x, Tensor frozenWeight, Layout layout) {
        return apply(tape, x, tape.constant(frozenWeight, "weight"), layout);
    }

    @Override
    public String name() {
        return "linear";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = dy · Wᵀ (IN_OUT)  |  dy · W (OUT_IN)           [rows, out]·[out, in]
        if (grads.needs(0)) {
            tape.backend().gemm(Gemm.of(rows, in, out, false, layout == Layout.IN_OUT), dOut, weight, grads.into(0));
        }
        // (2) dW = xᵀ · dy (IN_OUT, [in, out])  |  dyᵀ · x (OUT_IN, [out, in]); only for a trainable weight
        if (grads.needs(1)) {
            Tensor dW = grads.into(1);
            if (layout == Layout.IN_OUT) {
                tape.backend().gemm(Gemm.of(in, out, rows, true, false), x, dOut, dW);
            } else {
                tape.backend().gemm(Gemm.of(out, in, rows, true, false), dOut, x, dW);
            }
        }
    }
}
