package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Attention's masked, scaled softmax over the keys: {@code probs = softmax(scale · scores)} for scores
 * [batch, heads, queries, keys], with causal masking and an optional key padding mask [batch, keys]
 * (1 = attend, 0 = padding). Forward saves the probabilities, all backward needs.
 * Derivation: docs/autograd.md#softmax.
 */
public final class Softmax implements Function {

    private final Tape tape;
    private final Tensor probs;  // (batch, heads, queries, keys)
    private final double scale;

    private Softmax(Tape tape, Tensor probs, double scale) {
        this.tape = tape;
        this.probs = probs;
        this.scale = scale;
    }

    /** probs = softmax(scale · scores) over the last dimension; {@code keyMask} may be null. */
    public static Variable apply(Tape tape, Variable scores, double scale, boolean causal, Tensor keyMask) {
        Tensor s = scores.value();
        if (s.rank() != 4) {
            throw new IllegalArgumentException("softmax: scores " + scores + " must be [batch, heads, queries, keys]");
        }
        if (keyMask != null && (keyMask.rank() != 2 || keyMask.dim(0) != s.dim(0) || keyMask.dim(1) != s.dim(3))) {
            throw new IllegalArgumentException("softmax: key mask " + keyMask + " must be [batch, keys] = ["
                    + s.dim(0) + ", " + s.dim(3) + "] for scores " + scores);
        }
        Tensor probs = tape.allocate(scores.shape());
        // PyTorch: probs = torch.softmax(scale * scores.masked_fill(~mask, -inf), dim=-1)
        tape.backend().softmax(s, scale, causal, keyMask, probs);
        return tape.record(new Softmax(tape, probs, scale), probs, scores);
    }

    @Override
    public String name() {
        return "softmax";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // dScores = scale · probs · ((1) dProbs − (2) Σ_keys probs · dProbs); masked entries get 0:
        // (1) each probability's own score, (2) the shared normaliser
        tape.backend().softmaxBackward(probs, dOut, scale, grads.into(0));
    }
}
