package dev.promptgrad.model;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.safetensors.SafetensorsDType;
import dev.promptgrad.tensor.DType;

import java.util.Locale;

/**
 * How a loaded model's frozen weights are stored on the backend: float32, or bfloat16 for the matrices (half the
 * memory; the arithmetic stays float32, each product widening the weight exactly). Vectors (norm gains, biases)
 * stay float32 under every choice. It decides storage only; it neither quantizes activations nor changes any kernel.
 */
public enum WeightStorage {
    /** Every weight float32 (F16 and BF16 files widened): the exact arithmetic of PyTorch's float32 model. */
    F32,
    /** Matrices rounded to bfloat16 (nearest, ties to even, as PyTorch's {@code .to(torch.bfloat16)}); vectors float32. */
    BF16,
    /** Each matrix as its file stores it: BF16 stays bfloat16 (no rounding at all), F32 and F16 become float32. */
    AUTO;

    /** The name written on the command line ({@code f32}, {@code bf16}, {@code auto}). */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The storage named {@code name} on the command line; an error lists the choices. */
    public static WeightStorage parse(String name) {
        for (WeightStorage s : values()) if (s.cliName().equals(name)) return s;
        throw new IllegalArgumentException("--weights " + name + " is not one of f32, bf16, auto");
    }

    /**
     * The dtype of a weight of {@code shape} whose file holds it as {@code stored}, on {@code backend}: BF16 only for
     * matrices, and under AUTO only where the backend can hold BF16 (float32 otherwise, which changes no result).
     */
    public DType dtypeFor(int[] shape, SafetensorsDType stored, Backend backend) {
        if (shape.length != 2) return DType.F32;
        return switch (this) {
            case F32 -> DType.F32;
            case BF16 -> DType.BF16;
            case AUTO -> stored == SafetensorsDType.BF16 && backend.supports(DType.BF16) ? DType.BF16 : DType.F32;
        };
    }

    /** Refuses BF16 on a backend that cannot hold it, naming both, before any weight is read. */
    public void requireSupportedBy(Backend backend) {
        if (this == BF16 && !backend.supports(DType.BF16)) {
            throw new IllegalArgumentException("--weights bf16: the " + backend.name() + " backend cannot store BF16"
                    + " weights; use --weights f32 there");
        }
    }
}
