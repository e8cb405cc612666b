package dev.promptgrad.model;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.tensor.Tensor;

/**
 * The last Q positions of each sequence, which the fused GPT-2 and Llama layers compute alone when they are a loss's
 * last layer and only those rows reach it: a strided view of those rows in head-major tensors, the residual copied
 * out of the input, and their gradient added back. It runs kernels for those two ops and holds nothing.
 */
final class OutputPositions {

    private OutputPositions() {
    }

    /**
     * Rows [first, first + count) of every head of {@code heads} (H, T, headSize), as one view whose consecutive heads
     * are T·headSize apart: head h's rows start h·T·headSize + first·headSize elements in. A GEMM batched over the
     * heads with stride T·headSize reads or writes exactly those rows.
     */
    static Tensor headRows(Tensor heads, int first, int count) {
        int length = heads.dim(1), headSize = heads.dim(2);
        long start = (long) first * headSize;
        long span = (long) (heads.dim(0) - 1) * length * headSize + (long) count * headSize;
        return heads.view(-1).slice((int) start, (int) (start + span));
    }

    /** out (batch·Q, dim) = the rows [first, T) of each sequence of x (batch, T, dim). */
    static void copyTails(Backend backend, Tensor x, int first, Tensor out) {
        int batch = x.dim(0), length = x.dim(1);
        Tensor byPosition = out.view(batch, length - first, x.dim(2));
        for (int b = 0; b < batch; b++) backend.copy(x.select(b).slice(first, length), byPosition.select(b));
    }

    /** dX (batch·T, dim) += dTails (batch·Q, dim) at the rows [T − Q, T) of each sequence. */
    static void addTails(Backend backend, Tensor dX, Tensor dTails, int batch) {
        int dim = dX.dim(-1), length = dX.dim(0) / batch, queries = dTails.dim(0) / batch;
        if (queries == length) {
            backend.add(dX, dTails, dX);
            return;
        }
        Tensor byPosition = dX.view(batch, length, dim), tailsByPosition = dTails.view(batch, queries, dim);
        for (int b = 0; b < batch; b++) {
            Tensor tail = byPosition.select(b).slice(length - queries, length);
            backend.add(tail, tailsByPosition.select(b), tail);
        }
    }
}
