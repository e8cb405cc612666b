package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.tensor.Tensor;

/**
 * Rotary position embedding on x [batch, heads, T, headSize]: each feature pair chosen by the
 * {@link RopeLayout} is rotated by {@code p · theta^(−2j/headSize)}, where p is the position of time step t
 * (shared by every sequence, or of sequence b when each has its own). A rotation is orthogonal,
 * so backward is the same kernel with the opposite angle; nothing is saved but the settings.
 * Derivation: docs/autograd.md#rope.
 */
public final class Rope implements Function {

    /**
     * How a model rotates: the pair layout, the base θ (10000 for Llama 2) and the position of each key,
     * either [keys] shared by every sequence or [batch · keys], one row per sequence (left-padded sequences
     * whose text starts at different columns). In attention the queries are the last T keys of each
     * sequence, so a step without a cache uses 0 … T − 1.
     */
    public record Settings(RopeLayout layout, double theta, int[] positions) {
        public Settings {
            positions = positions.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }

        /** Positions 0 … length − 1 (no prompt offset, no cache). */
        public static Settings sequential(RopeLayout layout, double theta, int length) {
            int[] positions = new int[length];
            for (int t = 0; t < length; t++) positions[t] = t;
            return new Settings(layout, theta, positions);
        }
    }

    private final Tape tape;
    private final int[] positions;  // (T) or (batch, T)
    private final double theta;
    private final RopeLayout layout;

    private Rope(Tape tape, int[] positions, double theta, RopeLayout layout) {
        this.tape = tape;
        this.positions = positions;
        this.theta = theta;
        this.layout = layout;
    }

    /**
     * Rotates x [batch, heads, T, headSize] at time step t of sequence b by the angles of {@code positions[t]}
     * (T positions shared by every sequence) or {@code positions[b·T + t]} (batch · T positions).
     */
    public static Variable apply(Tape tape, Variable x, int[] positions, double theta, RopeLayout layout) {
        Tensor value = x.value();
        if (value.rank() != 4 || value.dim(3) % 2 != 0
                || positions.length != value.dim(2) && positions.length != (long) value.dim(0) * value.dim(2)) {
            throw new IllegalArgumentException("rope: " + x + " must be [batch, heads, T, headSize] with an even"
                    + " headSize, and " + positions.length + " positions must be one per time step (T) or per"
                    + " sequence and time step (batch · T)");
        }
        int[] saved = positions.clone();
        Tensor y = tape.allocate(x.shape());
        // PyTorch (HF Llama): y = x * cos + rotate_half(x) * sin
        tape.backend().rope(value, saved, theta, layout, false, y);
        return tape.record(new Rope(tape, saved, theta, layout), y, x);
    }

    @Override
    public String name() {
        return "rope";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = R(−angle) · dy: the inverse rotation, since R(angle) is orthogonal
        tape.backend().rope(dOut, positions, theta, layout, true, grads.into(0));
    }
}
