package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.tensor.Tensor;

/**
 * A batched product of two variables, {@code C[b] = op(A[b]) · op(B[b])} with op a transpose or not:
 * attention's {@code Q·Kᵀ} and {@code probs·V}. Both sides may need a gradient, and each costs one
 * strided-batched GEMM only when asked. A product with a frozen weight is {@link Linear}.
 * Derivation: docs/autograd.md#matmul.
 */
public final class MatMul implements Function {

    private final Tape tape;
    private final Tensor a;  // (batch, m, k) or (batch, k, m) when transA
    private final Tensor b;  // (batch, k, n) or (batch, n, k) when transB
    private final boolean transA, transB;
    private final int batch, m, n, k;

    private MatMul(Tape tape, Tensor a, Tensor b, boolean transA, boolean transB, int batch, int m, int n, int k) {
        this.tape = tape;
        this.a = a;
        this.b = b;
        this.transA = transA;
        this.transB = transB;
        this.batch = batch;
        this.m = m;
        this.n = n;
        this.k = k;
    }

    /** C = op(A)·op(B) for A and B of rank 3 with the same batch size; C is [batch, m, n]. */
    public static Variable apply(Tape tape, Variable a, Variable b, boolean transA, boolean transB) {
        Tensor av = a.value();
        Tensor bv = b.value();
        if (av.rank() != 3 || bv.rank() != 3 || av.dim(0) != bv.dim(0)) {
            throw new IllegalArgumentException("matmul: " + a + " and " + b
                    + " must be [batch, rows, cols] with the same batch");
        }
        int batch = av.dim(0);
        int m = transA ? av.dim(2) : av.dim(1);
        int k = transA ? av.dim(1) : av.dim(2);
        int kOfB = transB ? bv.dim(2) : bv.dim(1);
        int n = transB ? bv.dim(1) : bv.dim(2);
        if (k != kOfB) {
            throw new IllegalArgumentException("matmul: inner dimensions differ: " + a + (transA ? "ᵀ" : "") + " has "
                    + k + ", " + b + (transB ? "ᵀ" : "") + " has " + kOfB);
        }
        Tensor c = tape.allocate(batch, m, n);
        // PyTorch: c = torch.bmm(a, b)  (with .transpose(1, 2) on the transposed side)
        tape.backend().gemm(Gemm.batched(batch, m, n, k, transA, transB), av, bv, c);
        return tape.record(new MatMul(tape, av, bv, transA, transB, batch, m, n, k), c, a, b);
    }

    @Override
    public String name() {
        return "matmul";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        // (1) dA = dC · op(B)ᵀ, stored as A is: [m, k] directly, or its transpose op(B) · dCᵀ [k, m]
        if (grads.needs(0)) {
            Tensor dA = grads.into(0);
            if (!transA) {
                tape.backend().gemm(Gemm.batched(batch, m, k, n, false, !transB), dOut, b, dA);
            } else {
                tape.backend().gemm(Gemm.batched(batch, k, m, n, transB, true), b, dOut, dA);
            }
        }
        // (2) dB = op(A)ᵀ · dC, stored as B is: [k, n] directly, or its transpose dCᵀ · op(A) [n, k]
        if (grads.needs(1)) {
            Tensor dB = grads.into(1);
            if (!transB) {
                tape.backend().gemm(Gemm.batched(batch, k, n, m, !transA, false), a, dOut, dB);
            } else {
                tape.backend().gemm(Gemm.batched(batch, n, k, m, true, transA), dOut, a, dB);
            }
        }
    }
}
