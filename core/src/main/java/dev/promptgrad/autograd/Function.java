package dev.promptgrad.autograd;

import dev.promptgrad.tensor.Tensor;

/**
 * One differentiable op as recorded on the tape. Each op class keeps its forward (a static {@code apply})
 * and this backward side by side, saves only what backward needs, and computes a gradient only for the
 * inputs where {@link InputGrads#needs(int)} is true — a frozen weight costs nothing.
 */
public interface Function {

    /** The op's name for traces and errors, e.g. {@code "linear"}. */
    String name();

    /** Given dLoss/dOutput, writes dLoss/dInput for each input that needs it, through {@code grads}. */
    void backward(Tensor dOut, InputGrads grads);
}
