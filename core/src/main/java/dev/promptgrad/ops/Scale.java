package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Every element times a fixed number: y = α·x, such as cosine similarities divided by a temperature before a
 * softmax. α is a constant, never learned. Derivation: docs/autograd.md#scale.
 */
public final class Scale implements Function {

    private final Tape tape;
    private final double alpha;

    private Scale(Tape tape, double alpha) {
        this.tape = tape;
        this.alpha = alpha;
    }

    /** y = alpha · x, same shape. */
    public static Variable apply(Tape tape, Variable x, double alpha) {
        if (!Double.isFinite(alpha)) {
            throw new IllegalArgumentException("scale: the factor for " + x + " must be finite, got " + alpha);
        }
        Tensor y = tape.allocate(x.shape());
        // PyTorch: y = x * alpha
        tape.backend().scale(x.value(), alpha, y);
        return tape.record(new Scale(tape, alpha), y, x);
    }

    @Override
    public String name() {
        return "scale";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = α·dy
        tape.backend().scale(dOut, alpha, grads.into(0));
    }
}
