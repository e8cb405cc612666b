package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Tensor;

import java.util.Locale;

/**
 * An element-wise activation {@code y = f(x)} for f one of {@link UnaryOp} (GELU in its tanh and erf
 * forms, SiLU). Forward saves x; backward is {@code dx = dy · f'(x)}, the derivative written beside f in
 * {@link UnaryOp}. Llama's gated MLP is {@link SwiGlu}. Derivation: docs/autograd.md#gelu.
 */
public final class Activation implements Function {

    private final Tape tape;
    private final UnaryOp op;
    private final Tensor x;  // (..., dim)

    private Activation(Tape tape, UnaryOp op, Tensor x) {
        this.tape = tape;
        this.op = op;
        this.x = x;
    }

    /** y = op(x) element-wise. */
    public static Variable apply(Tape tape, UnaryOp op, Variable x) {
        Tensor y = tape.allocate(x.shape());
        // PyTorch: y = F.gelu(x, approximate="tanh")  |  F.gelu(x)  |  F.silu(x)
        tape.backend().unary(op, x.value(), y);
        return tape.record(new Activation(tape, op, x.value()), y, x);
    }

    @Override
    public String name() {
        return op.name().toLowerCase(Locale.ROOT);
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = dy · f'(x)
        tape.backend().unaryBackward(op, x, dOut, grads.into(0));
    }
}
