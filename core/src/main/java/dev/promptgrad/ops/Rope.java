package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.tensor.Tensor;

/**
 * Rotary position embedding on x [batch, heads, T, headSize]: feature pair j chosen by the {@link RopeLayout} is
 * rotated by {@code p · frequencies.inverse(j)} ({@code p · θ^(−2j/headSize)} without scaling, see
 * {@link RopeFrequencies}), where p is the position of time step t (shared by every sequence, or of sequence b
 * when each has its own). A rotation is orthogonal,
 * so backward is the same kernel with the opposite angle; nothing is saved but the settings.
 * Derivation: docs/autograd.md#rope.
 */
public final class Rope implements Function {

    /**
     * How a model rotates: the pair layout, the frequencies (base θ 10000 for Llama 2, with Llama 3.1's
     * scaling for Llama 3.1 and later) and the position of each key,
     * either [keys] shared by every sequence or [batch · keys], one row per sequence (left-padded sequences
     * whose text starts at different columns). In attention the queries are the last T keys of each
     * sequence, so a step without a cache uses 0 … T − 1.
     */
    public record Settings(RopeLayout layout, RopeFrequencies frequencies, int[] positions) {
        public Settings {
            positions = positions.clone();
        }

        @Override
        public int[] positions() {
            return positions.clone();
        }

        /** Positions 0 … length − 1 (no prompt offset, no cache). */
        public static Settings sequential(RopeLayout layout, RopeFrequencies frequencies, int length) {
            int[] positions = new int[length];
            for (int t = 0; t < length; t++) positions[t] = t;
            return new Settings(layout, frequencies, positions);
        }
    }

    private final Tape tape;
    private final int[] positions;  // (T) or (batch, T)
    private final RopeFrequencies frequencies;
    private final RopeLayout layout;

    private Rope(Tape tape, int[] positions, RopeFrequencies frequencies, RopeLayout layout) {
        this.tape = tape;
        this.positions = positions;
        this.frequencies = frequencies;
        this.layout = layout;
    }

    /**
     * Rotates x [batch, heads, T, headSize] at time step t of sequence b by the angles of {@code positions[t]}
     * (T positions shared by every sequence) or {@code positions[b·T + t]} (batch · T positions).
     */
    public static Variable apply(Tape tape, Variable x, int[] positions, RopeFrequencies frequencies,
                                 RopeLayout layout) {
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
        tape.backend().rope(value, saved, frequencies, layout, false, y);
        return tape.record(new Rope(tape, saved, frequencies, layout), y, x);
    }

    @Override
    public String name() {
        return "rope";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dx = R(−angle) · dy: the inverse rotation, since R(angle) is orthogonal
        tape.backend().rope(dOut, positions, frequencies, layout, true, grads.into(0));
    }
}
