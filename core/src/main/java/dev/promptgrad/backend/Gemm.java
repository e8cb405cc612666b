package dev.promptgrad.backend;

/**
 * The shape of a row-major, strided-batched matrix product: for each b < batch,
 * {@code C[b] = alpha · op(A[b]) · op(B[b]) + beta · C[b]}, where op(A) is m×k and op(B) is k×n.
 * Matrices are dense: A is stored m×k (or k×m when {@code transA}), B k×n (or n×k), C m×n.
 * The strides are the element distances between consecutive batch matrices (0 broadcasts one matrix).
 */
public record Gemm(int batch, int m, int n, int k, boolean transA, boolean transB,
                   long strideA, long strideB, long strideC, float alpha, float beta) {

    public Gemm {
        if (batch < 1 || m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("bad gemm shape batch=" + batch + " m=" + m + " n=" + n + " k=" + k);
        }
    }

    /** One product C = op(A)·op(B) (beta 0: C is overwritten). */
    public static Gemm of(int m, int n, int k, boolean transA, boolean transB) {
        return new Gemm(1, m, n, k, transA, transB, 0, 0, 0, 1f, 0f);
    }

    /** A batch of dense, back-to-back products (strides m·k, k·n, m·n). */
    public static Gemm batched(int batch, int m, int n, int k, boolean transA, boolean transB) {
        return new Gemm(batch, m, n, k, transA, transB, (long) m * k, (long) k * n, (long) m * n, 1f, 0f);
    }

    /** The same product, scaled by {@code alpha} and adding {@code beta} times the old C. */
    public Gemm scaled(float alpha, float beta) {
        return new Gemm(batch, m, n, k, transA, transB, strideA, strideB, strideC, alpha, beta);
    }

    /** Leading dimension of A as stored. */
    public int lda() {
        return transA ? m : k;
    }

    public int ldb() {
        return transB ? k : n;
    }

    public int ldc() {
        return n;
    }

    /** Multiply-adds counted twice, the usual GEMM FLOP count. */
    public long flops() {
        return 2L * batch * m * n * k;
    }
}
