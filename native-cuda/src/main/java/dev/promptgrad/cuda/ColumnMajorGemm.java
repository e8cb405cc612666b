package dev.promptgrad.cuda;

import dev.promptgrad.backend.Gemm;

/**
 * A row-major {@link Gemm} expressed in cuBLAS's column-major terms. Read column-major, a row-major m×n matrix is
 * its n×m transpose, so C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ: B is cuBLAS's first operand and A its
 * second, cuBLAS's m and n are ours swapped, and each operand keeps its own transpose flag, leading dimension and
 * batch stride. Nothing is copied or transposed in memory. This record is the mapping only; CudaBackend calls
 * cublasSgemmStridedBatched with it.
 *
 * @param transFirst   cuBLAS's transa, applied to B
 * @param transSecond  cuBLAS's transb, applied to A
 * @param m            cuBLAS's m: rows of its column-major C, i.e. our n
 * @param n            cuBLAS's n: our m
 * @param k            the inner dimension, unchanged
 * @param ldFirst      B's leading dimension as stored (row length of the row-major B)
 * @param ldSecond     A's leading dimension as stored
 * @param ldc          C's leading dimension (our n)
 */
record ColumnMajorGemm(boolean transFirst, boolean transSecond, int m, int n, int k,
                       int ldFirst, long strideFirst, int ldSecond, long strideSecond, int ldc, long strideC,
                       int batch) {

    static ColumnMajorGemm of(Gemm g) {
        return new ColumnMajorGemm(g.transB(), g.transA(), g.n(), g.m(), g.k(),
                g.ldb(), g.strideB(), g.lda(), g.strideA(), g.ldc(), g.strideC(), g.batch());
    }
}
