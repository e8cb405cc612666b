package dev.promptgrad.autograd;

import dev.promptgrad.tensor.Tensor;

/**
 * Where a {@link Function}'s backward puts its input gradients. For input i it either asks for a fresh
 * tensor to overwrite ({@link #into(int)}) or hands over a tensor that already is the gradient
 * ({@link #pass(int, Tensor)}, e.g. a residual add passing dOut through untouched). The tape sums
 * contributions when an input is used more than once.
 */
public interface InputGrads {

    /** Whether input {@code i} needs a gradient; if not, backward must not compute it. */
    boolean needs(int i);

    /** A fresh, uninitialised tensor shaped like input {@code i}; the backward overwrites it entirely. */
    Tensor into(int i);

    /** Declares {@code gradient} (shaped like input i) to be input i's gradient, without copying. */
    void pass(int i, Tensor gradient);
}
