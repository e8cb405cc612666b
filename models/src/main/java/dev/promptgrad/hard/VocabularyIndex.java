package dev.promptgrad.hard;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.Arrays;

/**
 * The embedding table seen from a hard-prompt search, built once: an L2-normalised copy of its rows for
 * nearest-token lookup by cosine similarity (PEZ's projection, soft → hard discretization), the raw table for
 * GCG's one-hot gradient {@code dL/dE_rows · Eᵀ}, and the candidate mask of a {@link CandidateFilter} so that
 * both only ever pick allowed tokens. The products run on the model's backend; the top-k selection runs on the
 * host. Owns the normalised copy and its scratch space; the table stays the model's.
 */
public final class VocabularyIndex implements AutoCloseable {

    /** Table rows normalised at a time on the host. */
    private static final int BLOCK_ROWS = 4096;

    private final Backend backend;
    private final Tensor table;          // (vocab, dim): the model's token embeddings, not owned
    private final boolean[] allowed;     // (vocab)
    private final int vocab;
    private final int dim;
    private final Scope scope;
    private final Tensor unitTable;      // (vocab, dim): table rows / ‖row‖ (a zero row stays zero)
    private final Tensor candidateMask;  // (vocab): 0 where allowed, −∞ elsewhere
    private final Workspace workspace;   // query rows and their scores, rewound per call

    /**
     * @param table  the model's embedding table (vocab, dim)
     * @param filter which tokens may be picked; its vocabulary must be the table's
     */
    public VocabularyIndex(Backend backend, Tensor table, CandidateFilter filter) {
        if (table.rank() != 2) throw new IllegalArgumentException("the embedding table " + table + " must be (vocab, dim)");
        if (filter.vocabSize() != table.dim(0)) {
            throw new IllegalArgumentException("the candidate filter covers " + filter.vocabSize() + " ids but the"
                    + " embedding table has " + table.dim(0) + " rows");
        }
        this.backend = backend;
        this.table = table;
        this.allowed = filter.allowed();
        this.vocab = table.dim(0);
        this.dim = table.dim(1);
        this.scope = new Scope(backend, "vocabulary index");
        try {
            this.unitTable = scope.allocate(vocab, dim);
            for (int from = 0; from < vocab; from += BLOCK_ROWS) {
                int to = Math.min(vocab, from + BLOCK_ROWS);
                float[] block = backend.download(table.slice(from, to));                      // (to − from, dim)
                normaliseRows(block, to - from);
                backend.upload(block, unitTable.slice(from, to));
            }
            float[] mask = new float[vocab];
            for (int v = 0; v < vocab; v++) mask[v] = allowed[v] ? 0f : Float.NEGATIVE_INFINITY;
            this.candidateMask = scope.of(mask, vocab);
            this.workspace = new Workspace(backend, "vocabulary index queries");
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    public int vocabSize() {
        return vocab;
    }

    public int dim() {
        return dim;
    }

    /** Whether the filter let {@code id} through. */
    public boolean allows(int id) {
        return id >= 0 && id < vocab && allowed[id];
    }

    /**
     * For each of the {@code count} rows of {@code rows} (count, dim), the allowed token of highest cosine
     * similarity ({@code argmax_v ⟨r/‖r‖, E_v/‖E_v‖⟩}; ties to the lowest id). PEZ's projection.
     */
    public int[] nearest(float[] rows, int count) {
        checkRows(rows, count);
        float[] unitRows = rows.clone();
        normaliseRows(unitRows, count);
        workspace.reset();
        Tensor query = workspace.allocate(count, dim);                                           // (count, dim)
        Tensor cosines = workspace.allocate(count, vocab);                                       // (count, vocab)
        backend.upload(unitRows, query);
        // PyTorch: cosines = F.normalize(rows) @ F.normalize(E).T
        backend.gemm(Gemm.of(count, vocab, dim, false, true), query, unitTable, cosines);
        backend.add(cosines, candidateMask, cosines);
        int[] ids = backend.argmax(cosines);
        workspace.reset();
        return ids;
    }

    /**
     * GCG's token scores: for row gradients {@code dRows} = dL/dE_rows (count, dim), the gradient of the loss
     * with respect to the one-hot indicators of the prompt's tokens, {@code dRows · Eᵀ} (count, vocab), row-major.
     * Entry (i, v) is the first-order change of the loss per unit weight on token v at position i.
     */
    public float[] oneHotGradient(float[] dRows, int count) {
        checkRows(dRows, count);
        workspace.reset();
        Tensor gradients = workspace.allocate(count, dim);                                       // (count, dim)
        Tensor scores = workspace.allocate(count, vocab);                                        // (count, vocab)
        backend.upload(dRows, gradients);
        // PyTorch (GCG token_gradients): one_hot.grad = d loss / d (one_hot @ E) · Eᵀ
        backend.gemm(Gemm.of(count, vocab, dim, false, true), gradients, table, scores);
        float[] out = backend.download(scores);
        workspace.reset();
        return out;
    }

    /**
     * The {@code k} allowed tokens with the lowest score in row {@code row} of {@code scores} (rows, vocab),
     * lowest first (ties to the lowest id; NaN scores never chosen): for a one-hot gradient, the swaps whose
     * linear estimate lowers the loss most ({@code (−grad).topk(k)} in GCG and AutoPrompt).
     */
    public int[] lowest(float[] scores, int row, int k) {
        if (k < 1) throw new IllegalArgumentException("top-k must be at least 1, got " + k);
        if (scores.length % vocab != 0 || row < 0 || (long) (row + 1) * vocab > scores.length) {
            throw new IllegalArgumentException("row " + row + " is not in " + scores.length / vocab + " score rows of "
                    + vocab);
        }
        int base = row * vocab;
        int[] heap = new int[k];     // a max-heap on (score, id): the worst kept candidate on top
        int size = 0;
        for (int v = 0; v < vocab; v++) {
            float s = scores[base + v];
            if (!allowed[v] || Float.isNaN(s)) continue;
            if (size < k) {
                heap[size] = v;
                siftUp(heap, size++, scores, base);
            } else if (before(v, heap[0], scores, base)) {
                heap[0] = v;
                siftDown(heap, size, scores, base);
            }
        }
        Integer[] kept = new Integer[size];
        for (int i = 0; i < size; i++) kept[i] = heap[i];
        Arrays.sort(kept, (a, b) -> before(a, b, scores, base) ? -1 : before(b, a, scores, base) ? 1 : 0);
        return Arrays.stream(kept).mapToInt(Integer::intValue).toArray();
    }

    /** The raw table's rows for {@code ids}, (ids.length, dim) row-major: the embeddings of a hard prompt. */
    public float[] embeddings(int[] ids) {
        float[] out = new float[ids.length * dim];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("token id " + ids[i] + " is outside the vocabulary [0, " + vocab + ")");
            }
            float[] row = backend.download(table.slice(ids[i], ids[i] + 1));
            System.arraycopy(row, 0, out, i * dim, dim);
        }
        return out;
    }

    private void checkRows(float[] rows, int count) {
        if (count < 1 || rows.length != (long) count * dim) {
            throw new IllegalArgumentException(count + " rows of width " + dim + " need " + (long) count * dim
                    + " values, got " + rows.length);
        }
    }

    /** Divides each row of {@code values} (rows, dim) by its L2 norm, computed in double; zero rows stay zero. */
    private void normaliseRows(float[] values, int rows) {
        for (int r = 0; r < rows; r++) {
            double squares = 0;
            for (int c = 0; c < dim; c++) squares += (double) values[r * dim + c] * values[r * dim + c];
            if (squares == 0) continue;
            double inverse = 1 / Math.sqrt(squares);
            for (int c = 0; c < dim; c++) values[r * dim + c] = (float) (values[r * dim + c] * inverse);
        }
    }

    /** Whether token a ranks before token b: a lower score, or the same score and a lower id. */
    private static boolean before(int a, int b, float[] scores, int base) {
        float sa = scores[base + a], sb = scores[base + b];
        return sa < sb || (sa == sb && a < b);
    }

    private static void siftUp(int[] heap, int i, float[] scores, int base) {
        while (i > 0) {
            int parent = (i - 1) / 2;
            if (!before(heap[parent], heap[i], scores, base)) return;
            swap(heap, i, parent);
            i = parent;
        }
    }

    private static void siftDown(int[] heap, int size, float[] scores, int base) {
        for (int i = 0; ; ) {
            int worst = i, left = 2 * i + 1, right = left + 1;
            if (left < size && before(heap[worst], heap[left], scores, base)) worst = left;
            if (right < size && before(heap[worst], heap[right], scores, base)) worst = right;
            if (worst == i) return;
            swap(heap, i, worst);
            i = worst;
        }
    }

    private static void swap(int[] heap, int a, int b) {
        int t = heap[a];
        heap[a] = heap[b];
        heap[b] = t;
    }

    /** Frees the normalised copy and the scratch space; the model's table stays. */
    @Override
    public void close() {
        try {
            workspace.close();
        } finally {
            scope.close();
        }
    }
}
