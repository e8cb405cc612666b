package dev.promptgrad.cuda;

import dev.promptgrad.backend.Gemm;

import java.util.ArrayList;
import java.util.List;

/**
 * The plan of a row-major {@link Gemm} whose A or B is a BF16 weight, as cuBLAS cannot read one in an SGEMM: steps
 * that each widen a slice of the weight to float32 in scratch device memory and multiply it by the float operand in
 * one strided-batched SGEMM, writing the matching slice of C in place (ldc = n). The slices cut the weight's kept
 * dimension (C's columns when the weight is B, C's rows when it is A) so that no step widens more than a cap of
 * elements. This record is arithmetic on shapes only; CudaBackend launches the widening kernel and cuBLAS.
 *
 * @param weightIsB whether the BF16 operand is B (else A)
 * @param steps     the steps, in order; together they write every element of every C matrix once
 * @param scratch   floats of scratch the largest step needs
 */
record WidenedWeightGemm(boolean weightIsB, List<Step> steps, long scratch) {

    /** Tile widths above this are multiples of it, so that every tile of C's columns starts 64-byte aligned in its row. */
    static final int TILE_ALIGN = 16;

    /**
     * One widening and one SGEMM. The widening reads {@code matrices} weight matrices {@code matrixStride} elements
     * apart, from each {@code runs} runs of {@code runLength} elements {@code runStride} apart, the first at element
     * {@code weightOffset} of the weight tensor, and writes them back to back into the scratch. The SGEMM is
     * {@code gemm}, whose weight operand is that scratch, whose float operand starts at element {@code floatOffset}
     * of its tensor and whose C starts at element {@code cOffset} of C.
     */
    record Step(long weightOffset, int matrices, long matrixStride, int runs, int runLength, long runStride,
                long floatOffset, long cOffset, ColumnMajorGemm gemm) {

        /** Floats this step widens into the scratch. */
        long widened() {
            return (long) matrices * runs * runLength;
        }
    }

    /**
     * The steps of {@code g} with a BF16 {@code B} (when {@code weightIsB}) or {@code A}, each widening at most
     * {@code capElements} (at most 2^31 − 1) weight elements, except that a step always takes at least one whole row
     * or column of the weight (k elements). A broadcast weight (stride 0, or a batch of one) is widened once, tile by
     * tile, each tile multiplied for the whole batch; of a batch of weights, each step widens as many whole matrices
     * as fit, or one tile of one matrix. Needs m, n, k ≥ 1.
     */
    static WidenedWeightGemm plan(Gemm g, boolean weightIsB, long capElements) {
        if (g.m() < 1 || g.n() < 1 || g.k() < 1 || capElements < 1 || capElements > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("WidenedWeightGemm: needs m, n, k ≥ 1 and a cap of 1 to 2^31 − 1"
                    + " elements, not " + g + " with a cap of " + capElements);
        }
        int k = g.k();
        int kept = weightIsB ? g.n() : g.m();                    // the weight's dimension that C keeps
        long weightStride = weightIsB ? g.strideB() : g.strideA();
        boolean broadcast = weightStride == 0 || g.batch() == 1;   // one weight matrix for the whole batch
        int width = (int) Math.min(kept, Math.max(1, capElements / k));
        if (width < kept && width > TILE_ALIGN) width = width / TILE_ALIGN * TILE_ALIGN;
        int group = broadcast ? g.batch()
                : width == kept ? (int) Math.min(g.batch(), Math.max(1, capElements / ((long) kept * k))) : 1;
        List<Step> steps = new ArrayList<>();
        long scratch = 0;
        for (int first = 0; first < g.batch(); first += group) {
            int count = Math.min(group, g.batch() - first);
            for (int start = 0; start < kept; start += width) {
                int tile = Math.min(width, kept - start);
                Step step = weightIsB ? columnsTimesWeight(g, first, count, broadcast, start, tile)
                        : weightRowsTimes(g, first, count, broadcast, start, tile);
                steps.add(step);
                scratch = Math.max(scratch, step.widened());
            }
        }
        return new WidenedWeightGemm(weightIsB, List.copyOf(steps), scratch);
    }

    /**
     * Columns [n0, n0 + nt) of C for matrices [first, first + count), B the weight. op(B)'s columns are stored
     * [nt, k] when transB (one run), else [k, nt] (k runs of nt, n apart). Row-major C[:, n0:] = op(A) · op(W) is,
     * column-major, W first (m' = nt) and A second (n' = m), with C's leading dimension n.
     */
    private static Step columnsTimesWeight(Gemm g, int first, int count, boolean broadcast, int n0, int nt) {
        int k = g.k();
        long matrixStart = (long) first * g.strideB();
        long weightOffset = g.transB() ? matrixStart + (long) n0 * k : matrixStart + n0;
        int runs = g.transB() ? 1 : k;
        int runLength = g.transB() ? nt * k : nt;
        int ldw = g.transB() ? k : nt;
        int matrices = broadcast ? 1 : count;
        long scratchStride = broadcast ? 0 : (long) nt * k;
        ColumnMajorGemm gemm = new ColumnMajorGemm(g.transB(), g.transA(), nt, g.m(), k,
                ldw, scratchStride, g.lda(), g.strideA(), g.ldc(), g.strideC(), count);
        return new Step(weightOffset, matrices, g.strideB(), runs, runLength, g.n(),
                (long) first * g.strideA(), (long) first * g.strideC() + n0, gemm);
    }

    /**
     * Rows [m0, m0 + mt) of C for matrices [first, first + count), A the weight. op(A)'s rows are stored [k, mt]
     * when transA (k runs of mt, m apart), else [mt, k] (one run). Row-major C[m0:, :] = op(W) · op(B) is,
     * column-major, B first (m' = n) and W second (n' = mt), with C's leading dimension n.
     */
    private static Step weightRowsTimes(Gemm g, int first, int count, boolean broadcast, int m0, int mt) {
        int k = g.k();
        long matrixStart = (long) first * g.strideA();
        long weightOffset = g.transA() ? matrixStart + m0 : matrixStart + (long) m0 * k;
        int runs = g.transA() ? k : 1;
        int runLength = g.transA() ? mt : mt * k;
        int ldw = g.transA() ? mt : k;
        int matrices = broadcast ? 1 : count;
        long scratchStride = broadcast ? 0 : (long) mt * k;
        ColumnMajorGemm gemm = new ColumnMajorGemm(g.transB(), g.transA(), g.n(), mt, k,
                g.ldb(), g.strideB(), ldw, scratchStride, g.ldc(), g.strideC(), count);
        return new Step(weightOffset, matrices, g.strideA(), runs, runLength, g.m(),
                (long) first * g.strideB(), (long) first * g.strideC() + (long) m0 * g.n(), gemm);
    }
}
