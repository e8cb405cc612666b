package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Llama's gated MLP activation: {@code y = silu(gate) · up}, element-wise, for the outputs of the gate
 * and up projections. Forward saves both inputs; backward computes dGate and dUp only where asked
 * (one fused kernel). The projections around it are {@link Linear}s. Derivation: docs/autograd.md#swiglu.
 */
public final class SwiGlu implements Function {

    private final Tape tape;
    private final Tensor gate;  // (..., hidden)
    private final Tensor up;    // (..., hidden)

    private SwiGlu(Tape tape, Tensor gate, Tensor up) {
        this.tape = tape;
        this.gate = gate;
        this.up = up;
    }

    /** y = silu(gate) · up. */
    public static Variable apply(Tape tape, Variable gate, Variable up) {
        if (!gate.value().sameShape(up.value())) {
            throw new IllegalArgumentException("swiglu: gate " + gate + " and up " + up + " must have the same shape");
        }
        Tensor y = tape.allocate(gate.shape());
        // PyTorch (HF LlamaMLP): y = F.silu(gate_proj(x)) * up_proj(x)
        tape.backend().swiglu(gate.value(), up.value(), y);
        return tape.record(new SwiGlu(tape, gate.value(), up.value()), y, gate, up);
    }

    @Override
    public String name() {
        return "swiglu";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dGate = dy · up · silu'(gate)
        Tensor dGate = grads.needs(0) ? grads.into(0) : null;
        // (2) dUp = dy · silu(gate)
        Tensor dUp = grads.needs(1) ? grads.into(1) : null;
        tape.backend().swigluBackward(gate, up, dOut, dGate, dUp);
    }
}
