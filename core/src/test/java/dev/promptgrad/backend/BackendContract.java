package dev.promptgrad.backend;

import dev.promptgrad.safetensors.HalfFloats;
import dev.promptgrad.tensor.Buffer;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The contract every {@link Backend} passes: each kernel of the SPI, run on seeded random float32 inputs of awkward
 * sizes (1, 7, 33, 1023 in the dimension that matters), must match {@link ReferenceBackend} computing on the very
 * same values in float64, within {@code atol + rtol·|reference|}. Subclasses supply {@link #backend()}; other modules
 * reuse this class through the core test-jar. It is neither a benchmark nor a gradient check (the ops tests are).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class BackendContract {

    /** The backend under test. Called once per test class; the suite closes it after the class's tests. */
    protected abstract Backend backend();

    /** Element-wise results rounded once to float. */
    private static final Tolerance ROUNDED = new Tolerance(1e-6, 2e-6);
    /** Row reductions in double then rounded (norms, softmax, cross-entropy). */
    private static final Tolerance REDUCED = new Tolerance(1e-5, 1e-5);

    /** Elements before and after each test tensor in its buffer (odd, so that views are misaligned too). */
    private static final int PAD = 3;
    /** What the padding holds (a bfloat16 value too, so BF16 weights are padded alike); a stray write changes it. */
    private static final float PAD_SENTINEL = -7680f;

    private final ReferenceBackend reference = new ReferenceBackend();
    private Backend backend;
    private Scope mine;        // this test's tensors on the backend under test
    private Scope oracle;      // the same tensors, as F64, on the reference backend
    private long liveAtStart;  // backend.liveBytes() before the test
    private final List<Tensor> padded = new ArrayList<>();   // this test's padded buffers on the backend under test
    private String testName;

    /** The same values twice: F32 on the backend under test, F64 on the reference. */
    protected record Twin(Tensor mine, Tensor ref) {
        /** Elements [from, to) of the flattened tensor, viewed as {@code shape}: a view at an offset. */
        Twin range(int from, int to, int... shape) {
            return new Twin(mine.view(-1).slice(from, to).view(shape), ref.view(-1).slice(from, to).view(shape));
        }
    }

    /** A bound of {@code atol + rtol·|reference|} on each element. */
    private record Tolerance(double atol, double rtol) {
    }

    @BeforeAll
    void openBackend() {
        backend = backend();
    }

    @AfterAll
    void closeBackends() {
        backend.close();
        reference.close();
    }

    @BeforeEach
    void openScopes(TestInfo info) {
        testName = info.getTestMethod().map(m -> m.getName() + " ").orElse("") + info.getDisplayName();
        liveAtStart = backend.liveBytes();
        mine = new Scope(backend, "contract " + testName);
        oracle = new Scope(reference, "oracle " + testName);
    }

    @AfterEach
    void closeScopes() {
        try {
            checkPadding();
        } finally {
            padded.clear();
            mine.close();
            oracle.close();
        }
        assertEquals(liveAtStart, backend.liveBytes(), backend.name() + ": live bytes after closing the scope of "
                + testName);
        assertEquals(0, reference.liveBytes(), "reference live bytes after " + testName);
    }

    /** No kernel of the test wrote outside its tensors: every padding element still holds the sentinel. */
    private void checkPadding() {
        for (Tensor whole : padded) {
            float[] values = backend.download(whole);
            for (int i = 0; i < values.length; i++) {
                boolean pad = i < PAD || i >= values.length - PAD;
                if (pad && Float.floatToRawIntBits(values[i]) != Float.floatToRawIntBits(PAD_SENTINEL)) {
                    fail(backend.name() + " " + testName + ": a kernel wrote outside its tensor: element "
                            + (i < PAD ? i - PAD : i - (values.length - PAD)) + (i < PAD ? " before" : " after the end of")
                            + " a tensor of " + (values.length - 2 * PAD) + " elements holds " + values[i]);
                }
            }
        }
    }

    // ---- memory ------------------------------------------------------------------------------------------

    @Test
    void uploadDownloadRoundTripIsExact() {
        float[] values = {0f, -0f, 1.5f, -3.25e-7f, Float.MIN_VALUE, Float.MAX_VALUE, -1e30f, 0.1f, 7f};
        Tensor t = mine.of(values, 3, 3);
        assertArrayEquals(values, backend.download(t), "download after upload(float[])");
        double[] wide = backend.downloadDouble(t);
        for (int i = 0; i < values.length; i++) assertEquals(values[i], wide[i], 0, "downloadDouble index " + i);

        double[] doubles = {0.1, -1.0 / 3, 1e-40, 123456.789, 2};
        Tensor d = mine.allocate(5);
        backend.upload(doubles, d);
        float[] back = backend.download(d);
        for (int i = 0; i < doubles.length; i++) assertEquals((float) doubles[i], back[i], 0, "upload(double[]) rounds to float, index " + i);

        Tensor whole = mine.allocate(4, 6);
        backend.fill(whole, -2);
        Tensor row = whole.select(2);   // a view at offset 12
        backend.upload(new float[]{1, 2, 3, 4, 5, 6}, row);
        float[] all = backend.download(whole);
        for (int i = 0; i < all.length; i++) {
            float expected = i >= 12 && i < 18 ? i - 11 : -2;
            assertEquals(expected, all[i], 0, "upload into row 2 of a [4, 6] tensor, element " + i);
        }
        assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, backend.download(row), "download of a view at an offset");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void fillAndCopy(int n) {
        Random rnd = seeded("copy", n);
        Tensor filled = mine.allocate(n);
        backend.fill(filled, 0.1);
        float[] f = backend.download(filled);
        for (int i = 0; i < n; i++) assertEquals(0.1f, f[i], 0, "fill n=" + n + " index " + i);

        float[] values = randomValues(rnd, 3 * n, -1, 1);
        Tensor src = mine.of(values, 3, n);
        Tensor big = mine.allocate(5 * n);
        backend.fill(big, Double.NaN);
        Tensor dst = big.slice(n, 4 * n).view(n, 3);   // reshaping copy into a view at an offset
        backend.copy(src, dst);
        float[] after = backend.download(big);
        for (int i = 0; i < 5 * n; i++) {
            if (i >= n && i < 4 * n) {
                assertEquals(values[i - n], after[i], 0, "copy n=" + n + " element " + i);
            } else {
                assertTrue(Float.isNaN(after[i]), "copy n=" + n + " wrote outside its destination at " + i);
            }
        }
    }

    @Test
    void liveBytesCountEveryAllocationAndReturnToStart() {
        long start = backend.liveBytes();
        try (Scope scope = new Scope(backend, "live bytes")) {
            scope.allocate(7);
            scope.allocate(33, 3);
            scope.allocate(0);
            assertEquals(start + 4L * (7 + 99), backend.liveBytes(), "live bytes after three F32 allocations");
        }
        assertEquals(start, backend.liveBytes(), "live bytes after the scope closed");
    }

    @Test
    void releasedStorageIsRejected() {
        Buffer buffer = backend.allocate(DType.F32, 8, "released twice");
        backend.release(buffer);
        assertThrows(IllegalStateException.class, () -> backend.release(buffer), "second release");
        Tensor stale;
        try (Scope scope = new Scope(backend, "closed early")) {
            stale = scope.allocate(2, 4);
        }
        Tensor fresh = mine.allocate(2, 4);
        assertThrows(IllegalStateException.class, () -> backend.fill(stale, 1), "fill after close");
        assertThrows(IllegalStateException.class, () -> backend.download(stale), "download after close");
        assertThrows(IllegalStateException.class, () -> backend.copy(stale, fresh), "copy from released storage");
        assertThrows(IllegalStateException.class, () -> backend.unary(UnaryOp.SILU, fresh, stale), "kernel into released storage");
    }

    @Test
    void float64IsAllocatedOnlyWhereSupported() {
        if (backend.supports(DType.F64)) {
            Tensor t = mine.of(DType.F64, new double[]{0.1, 1.0 / 3}, 2);
            assertArrayEquals(new double[]{0.1, 1.0 / 3}, backend.downloadDouble(t), 0, "F64 round trip");
        } else {
            assertThrows(IllegalArgumentException.class, () -> backend.allocate(DType.F64, 4, "F64 probe"));
        }
        assertTrue(backend.supports(DType.F32), backend.name() + " must support F32");
    }

    // ---- element-wise ----------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void add(int cols) {
        Random rnd = seeded("add", cols);
        Twin a = random(rnd, -2, 2, 3, cols), b = random(rnd, -2, 2, 3, cols), bias = random(rnd, -2, 2, cols);
        Twin out = garbage(3, cols);
        run(k -> k.backend.add(k.pick(a), k.pick(b), k.pick(out)));
        check("add cols=" + cols, out, ROUNDED);
        run(k -> k.backend.add(k.pick(a), k.pick(bias), k.pick(out)));
        check("add bias cols=" + cols, out, ROUNDED);
        run(k -> k.backend.add(k.pick(a), k.pick(bias), k.pick(a)));
        check("add in place (out = a) cols=" + cols, a, ROUNDED);
        run(k -> k.backend.add(k.pick(a), k.pick(b), k.pick(b)));
        check("add in place (out = b) cols=" + cols, b, ROUNDED);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void scale(int n) {
        Random rnd = seeded("scale", n);
        Twin x = random(rnd, -5, 5, n), out = garbage(n);
        run(k -> k.backend.scale(k.pick(x), -0.3, k.pick(out)));
        check("scale n=" + n, out, ROUNDED);
        run(k -> k.backend.scale(k.pick(x), 1.0 / 7, k.pick(x)));
        check("scale in place n=" + n, x, ROUNDED);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void sumRows(int n) {
        Random rnd = seeded("sumRows", n);
        for (int[] shape : new int[][]{{n, 7}, {2, 3, n}}) {
            int cols = shape[shape.length - 1];
            Twin x = random(rnd, -1, 1, shape), out = garbage(cols);
            run(k -> k.backend.sumRows(k.pick(x), k.pick(out), false));
            check("sumRows " + Arrays.toString(shape), out, REDUCED);
            run(k -> k.backend.sumRows(k.pick(x), k.pick(out), true));
            check("sumRows accumulate " + Arrays.toString(shape), out, REDUCED);
        }
    }

    @ParameterizedTest
    @EnumSource(UnaryOp.class)
    void unaryAndBackward(UnaryOp op) {
        for (int n : new int[]{1, 7, 33, 1023}) {
            Random rnd = seeded("unary " + op, n);
            Twin x = random(rnd, -6, 6, n), out = garbage(n), dOut = random(rnd, -1, 1, n), dx = garbage(n);
            run(k -> k.backend.unary(op, k.pick(x), k.pick(out)));
            check("unary " + op + " n=" + n, out, ROUNDED);
            run(k -> k.backend.unaryBackward(op, k.pick(x), k.pick(dOut), k.pick(dx)));
            check("unaryBackward " + op + " n=" + n, dx, ROUNDED);
            run(k -> k.backend.unaryBackward(op, k.pick(x), k.pick(dOut), k.pick(dOut)));
            check("unaryBackward in place (dx = dOut) " + op + " n=" + n, dOut, ROUNDED);
            run(k -> k.backend.unary(op, k.pick(x), k.pick(x)));
            check("unary in place " + op + " n=" + n, x, ROUNDED);
        }
        Twin extremes = values(new float[]{-80, -30, -1e-20f, 0, 1e-20f, 30, 80}, 7), out = garbage(7);
        run(k -> k.backend.unary(op, k.pick(extremes), k.pick(out)));
        check("unary " + op + " at extremes", out, ROUNDED);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void swigluAndBackward(int n) {
        Random rnd = seeded("swiglu", n);
        Twin gate = random(rnd, -6, 6, 2, n), up = random(rnd, -2, 2, 2, n), dOut = random(rnd, -1, 1, 2, n);
        Twin out = garbage(2, n), dGate = garbage(2, n), dUp = garbage(2, n);
        run(k -> k.backend.swiglu(k.pick(gate), k.pick(up), k.pick(out)));
        check("swiglu n=" + n, out, ROUNDED);
        run(k -> k.backend.swigluBackward(k.pick(gate), k.pick(up), k.pick(dOut), k.pick(dGate), k.pick(dUp)));
        check("swigluBackward dGate n=" + n, dGate, ROUNDED);
        check("swigluBackward dUp n=" + n, dUp, ROUNDED);
        Twin onlyGate = garbage(2, n), onlyUp = garbage(2, n);
        run(k -> k.backend.swigluBackward(k.pick(gate), k.pick(up), k.pick(dOut), k.pick(onlyGate), null));
        check("swigluBackward dGate only n=" + n, onlyGate, ROUNDED);
        run(k -> k.backend.swigluBackward(k.pick(gate), k.pick(up), k.pick(dOut), null, k.pick(onlyUp)));
        check("swigluBackward dUp only n=" + n, onlyUp, ROUNDED);
    }

    // ---- normalisation ---------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void layerNormAndBackward(int cols) {
        Random rnd = seeded("layerNorm", cols);
        Twin x = random(rnd, 2, 4, 2, 3, cols), gamma = random(rnd, 0.5, 1.5, cols), beta = random(rnd, -1, 1, cols);
        Twin out = garbage(2, 3, cols), mean = garbage(2, 3), rstd = garbage(2, 3);
        run(k -> k.backend.layerNorm(k.pick(x), k.pick(gamma), k.pick(beta), 1e-5, k.pick(out), k.pick(mean), k.pick(rstd)));
        check("layerNorm cols=" + cols, out, REDUCED);
        check("layerNorm mean cols=" + cols, mean, REDUCED);
        check("layerNorm rstd cols=" + cols, rstd, REDUCED);
        Twin plain = garbage(2, 3, cols);
        run(k -> k.backend.layerNorm(k.pick(x), k.pick(gamma), null, 1e-5, k.pick(plain), null, null));
        check("layerNorm without beta or statistics cols=" + cols, plain, REDUCED);

        Twin savedMean = sameValues(mean), savedRstd = sameValues(rstd);   // both backends get the oracle's stats
        Twin dOut = random(rnd, -1, 1, 2, 3, cols), dx = garbage(2, 3, cols);
        run(k -> k.backend.layerNormBackward(k.pick(x), k.pick(gamma), k.pick(savedMean), k.pick(savedRstd),
                k.pick(dOut), k.pick(dx)));
        check("layerNormBackward cols=" + cols, dx, REDUCED);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void rmsNormAndBackward(int cols) {
        Random rnd = seeded("rmsNorm", cols);
        Twin x = random(rnd, -3, 3, 5, cols), weight = random(rnd, 0.5, 1.5, cols);
        Twin out = garbage(5, cols), rstd = garbage(5);
        run(k -> k.backend.rmsNorm(k.pick(x), k.pick(weight), 1e-6, k.pick(out), k.pick(rstd)));
        check("rmsNorm cols=" + cols, out, REDUCED);
        check("rmsNorm rstd cols=" + cols, rstd, REDUCED);
        Twin plain = garbage(5, cols);
        run(k -> k.backend.rmsNorm(k.pick(x), k.pick(weight), 1e-6, k.pick(plain), null));
        check("rmsNorm without rstd cols=" + cols, plain, REDUCED);

        Twin savedRstd = sameValues(rstd);
        Twin dOut = random(rnd, -1, 1, 5, cols), dx = garbage(5, cols);
        run(k -> k.backend.rmsNormBackward(k.pick(x), k.pick(weight), k.pick(savedRstd), k.pick(dOut), k.pick(dx)));
        check("rmsNormBackward cols=" + cols, dx, REDUCED);
    }

    // ---- matrix products -------------------------------------------------------------------------------

    /**
     * Every transpose, over NaN and with alpha and beta, at awkward shapes: single rows and columns (a backend may
     * treat m = 1 as a matrix-vector product) up to a single row of 4.2 million multiply-adds, as in decoding one
     * token, which a backend may split between threads.
     */
    @ParameterizedTest
    @ValueSource(strings = {"1 1 1", "7 33 1", "33 7 33", "1 33 7", "33 1 7", "7 33 1023", "1 4099 1025"})
    void gemmTransposes(String mnk) {
        int[] d = Arrays.stream(mnk.split(" ")).mapToInt(Integer::parseInt).toArray();
        int m = d[0], n = d[1], k = d[2];
        Random rnd = seeded("gemm " + mnk, 0);
        for (boolean transA : new boolean[]{false, true}) {
            for (boolean transB : new boolean[]{false, true}) {
                Twin a = random(rnd, -1, 1, transA ? k : m, transA ? m : k);
                Twin b = random(rnd, -1, 1, transB ? n : k, transB ? k : n);
                Twin c = garbage(m, n);   // NaN: beta 0 must ignore it
                Gemm g = Gemm.of(m, n, k, transA, transB);
                run(x -> x.backend.gemm(g, x.pick(a), x.pick(b), x.pick(c)));
                check("gemm m=" + m + " n=" + n + " k=" + k + " transA=" + transA + " transB=" + transB + " over NaN",
                        c, gemmTolerance(k));
                Gemm scaled = g.scaled(-0.75f, 0.5f);
                run(x -> x.backend.gemm(scaled, x.pick(a), x.pick(b), x.pick(c)));
                check("gemm alpha=-0.75 beta=0.5 m=" + m + " n=" + n + " k=" + k + " transA=" + transA
                        + " transB=" + transB, c, gemmTolerance(k));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33})
    void gemmStridedBatch(int size) {
        Random rnd = seeded("gemm batch", size);
        int batch = 5, m = size, n = size + 2, k = 2 * size + 1;
        // A: batch matrices k×m (transA) at stride m·k + 3, starting 4 elements into its buffer
        long strideA = (long) m * k + 3;
        Twin aStore = random(rnd, -1, 1, (int) (4 + (batch - 1) * strideA + m * k));
        Twin a = aStore.range(4, aStore.mine.dim(0), aStore.mine.dim(0) - 4);
        Twin b = random(rnd, -1, 1, k, n);   // one B broadcast to every product (stride 0)
        long strideC = (long) m * n + 1;
        Twin c = random(rnd, -1, 1, (int) ((batch - 1) * strideC + m * n));
        Gemm g = new Gemm(batch, m, n, k, true, false, strideA, 0, strideC, 1.25f, -1f);
        run(x -> x.backend.gemm(g, x.pick(a), x.pick(b), x.pick(c)));
        check("gemm strided batch of " + batch + ", m=" + m + " n=" + n + " k=" + k + " (gaps untouched)", c, gemmTolerance(k));

        Twin dense = garbage(batch, m, n);
        Twin aDense = random(rnd, -1, 1, batch, m, k), bDense = random(rnd, -1, 1, batch, n, k);
        Gemm packed = Gemm.batched(batch, m, n, k, false, true);
        run(x -> x.backend.gemm(packed, x.pick(aDense), x.pick(bDense), x.pick(dense)));
        check("gemm dense batch of " + batch + ", m=" + m + " n=" + n + " k=" + k + " transB", dense, gemmTolerance(k));
    }

    @Test
    void gemmLargeBatchAndEmptyProducts() {
        Random rnd = seeded("gemm large", 64);
        Twin a = random(rnd, -1, 1, 3, 64, 96), b = random(rnd, -1, 1, 3, 96, 64), c = garbage(3, 64, 64);
        Gemm large = Gemm.batched(3, 64, 64, 96, false, false);   // 64·64·96 multiply-adds per product
        run(x -> x.backend.gemm(large, x.pick(a), x.pick(b), x.pick(c)));
        check("gemm batch of 3 large products 64×64×96", c, gemmTolerance(96));
        Twin manyA = random(rnd, -1, 1, 24, 48, 96), manyB = random(rnd, -1, 1, 24, 96, 48), manyC = garbage(24, 48, 48);
        Gemm many = Gemm.batched(24, 48, 48, 96, false, false);   // many small products: a backend may spread them
        run(x -> x.backend.gemm(many, x.pick(manyA), x.pick(manyB), x.pick(manyC)));
        check("gemm batch of 24 small products 48×48×96", manyC, gemmTolerance(96));

        Twin none = random(rnd, -1, 1, 1), empty = random(rnd, -1, 1, 2, 3, 4);
        Gemm noK = new Gemm(2, 3, 4, 0, false, false, 0, 0, 12, 1f, 0.5f);
        run(x -> x.backend.gemm(noK, x.pick(none), x.pick(none), x.pick(empty)));
        check("gemm k=0 leaves beta·C", empty, ROUNDED);
        Twin nan = garbage(2, 3, 4);
        run(x -> x.backend.gemm(noK.scaled(1f, 0f), x.pick(none), x.pick(none), x.pick(nan)));
        check("gemm k=0, beta 0 over NaN gives zeros", nan, ROUNDED);
    }

    // ---- BF16 weights -----------------------------------------------------------------------------------

    /**
     * Uploading into BF16 rounds to the nearest bfloat16 with ties to even (as PyTorch's {@code .to(torch.bfloat16)});
     * download widens exactly; copy moves the words; live bytes count two per element. A backend without BF16
     * refuses to allocate it.
     */
    @Test
    void bf16StorageRoundsOnUploadAndWidensOnDownload() {
        if (!backend.supports(DType.BF16)) {
            assertThrows(IllegalArgumentException.class, () -> backend.allocate(DType.BF16, 4, "BF16 probe"));
            return;
        }
        float tie = 1f + 0x1p-8f, aboveTie = 1f + 0x1p-8f + 0x1p-20f, oddTie = 1f + 3 * 0x1p-8f;
        float[] values = {0f, -0f, 1f, tie, aboveTie, oddTie, -2.5f, 1e-40f, 3.0e38f, Float.POSITIVE_INFINITY,
                Float.NaN, 0.1f, -65504f};
        float[] expected = new float[values.length];
        for (int i = 0; i < values.length; i++) expected[i] = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(values[i]));
        assertEquals(1f, expected[3], 0, "a tie rounds to the even neighbour (1.0)");
        assertEquals(1f + 0x1p-7f, expected[4], 0, "above a tie rounds up");
        assertEquals(1f + 0x1p-6f, expected[5], 0, "a tie between odd and even rounds to the even one");

        long before = backend.liveBytes();
        Tensor weight = mine.allocate(DType.BF16, values.length);
        assertEquals(before + 2L * values.length, backend.liveBytes(), "BF16 elements take two bytes each");
        backend.upload(values, weight);
        float[] back = backend.download(weight);
        for (int i = 0; i < values.length; i++) {
            assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(back[i]),
                    "BF16 upload/download of " + values[i] + " (index " + i + ")");
            assertEquals(expected[i], backend.downloadDouble(weight)[i], 0, "downloadDouble of BF16 index " + i);
        }

        Tensor whole = paddedView(DType.BF16, 3, values.length);
        backend.upload(new double[3 * values.length], whole);
        backend.copy(weight, whole.select(1));
        float[] rows = backend.download(whole);
        for (int i = 0; i < rows.length; i++) {
            float want = i >= values.length && i < 2 * values.length ? expected[i - values.length] : 0f;
            assertEquals(Float.floatToIntBits(want), Float.floatToIntBits(rows[i]), "BF16 copy into row 1, element " + i);
        }
    }

    /**
     * A BF16 weight as either operand of a product, in every transpose, over NaN and with alpha and beta: the result
     * is the float32 product of the bfloat16 values. The sizes reach single rows (decoding) and weights larger than
     * one widening tile, split between threads.
     */
    @ParameterizedTest
    @ValueSource(strings = {"1 1 1", "7 33 1", "33 7 33", "1 4099 1025", "9 1100 1000"})
    void gemmWithBf16Weight(String mnk) {
        if (!backend.supports(DType.BF16)) return;
        int[] d = Arrays.stream(mnk.split(" ")).mapToInt(Integer::parseInt).toArray();
        int m = d[0], n = d[1], k = d[2];
        Random rnd = seeded("gemm bf16 " + mnk, 0);
        for (boolean weightIsB : new boolean[]{true, false}) {
            for (boolean transA : new boolean[]{false, true}) {
                for (boolean transB : new boolean[]{false, true}) {
                    int[] aShape = {transA ? k : m, transA ? m : k}, bShape = {transB ? n : k, transB ? k : n};
                    Twin a = weightIsB ? random(rnd, -1, 1, aShape) : randomBf16(rnd, -1, 1, aShape);
                    Twin b = weightIsB ? randomBf16(rnd, -1, 1, bShape) : random(rnd, -1, 1, bShape);
                    Twin c = garbage(m, n);
                    String what = "gemm with BF16 " + (weightIsB ? "B" : "A") + " m=" + m + " n=" + n + " k=" + k
                            + " transA=" + transA + " transB=" + transB;
                    Gemm g = Gemm.of(m, n, k, transA, transB);
                    run(x -> x.backend.gemm(g, x.pick(a), x.pick(b), x.pick(c)));
                    check(what + " over NaN", c, gemmTolerance(k));
                    Gemm scaled = g.scaled(-0.75f, 0.5f);
                    run(x -> x.backend.gemm(scaled, x.pick(a), x.pick(b), x.pick(c)));
                    check(what + " alpha=-0.75 beta=0.5", c, gemmTolerance(k));
                }
            }
        }
    }

    /**
     * A BF16 B [k, n] under many rows of C with a long k, as in the backward product through an output layer
     * (k = vocab): a backend may walk the weight in blocks of rows, accumulating into C after the first block.
     */
    @Test
    void gemmWithLongBf16WeightUnderManyRows() {
        if (!backend.supports(DType.BF16)) return;
        int m = 66, n = 300, k = 3500;   // m ≥ 32 rows per thread on two threads; k > 2^20 / n
        Random rnd = seeded("gemm bf16 long k", 0);
        Twin weight = randomBf16(rnd, -1, 1, k, n);
        for (boolean transA : new boolean[]{false, true}) {
            Twin a = random(rnd, -1, 1, transA ? k : m, transA ? m : k), c = garbage(m, n);
            Gemm g = Gemm.of(m, n, k, transA, false).scaled(0.5f, 0f);
            run(x -> x.backend.gemm(g, x.pick(a), x.pick(weight), x.pick(c)));
            check("gemm with a long BF16 B, m=" + m + " n=" + n + " k=" + k + " transA=" + transA + " over NaN", c,
                    gemmTolerance(k));
            Gemm accumulate = g.scaled(1f, -1f);
            run(x -> x.backend.gemm(accumulate, x.pick(a), x.pick(weight), x.pick(c)));
            check("gemm with a long BF16 B, beta=-1, transA=" + transA, c, gemmTolerance(k));
        }
    }

    /** A BF16 weight broadcast to a strided batch (stride 0), and a batch of BF16 matrices at an odd stride. */
    @Test
    void gemmStridedBatchWithBf16Weight() {
        if (!backend.supports(DType.BF16)) return;
        Random rnd = seeded("gemm bf16 batch", 0);
        int batch = 3, m = 9, n = 21, k = 17;
        Twin a = random(rnd, -1, 1, batch, m, k), weight = randomBf16(rnd, -1, 1, n, k), c = garbage(batch, m, n);
        Gemm broadcast = new Gemm(batch, m, n, k, false, true, (long) m * k, 0, (long) m * n, 1f, 0f);
        run(x -> x.backend.gemm(broadcast, x.pick(a), x.pick(weight), x.pick(c)));
        check("gemm batch of 3 with one BF16 weight (stride 0)", c, gemmTolerance(k));

        long strideA = (long) m * k + 5;
        Twin weights = randomBf16(rnd, -1, 1, (int) ((batch - 1) * strideA + m * k));
        Twin b = random(rnd, -1, 1, batch, k, n), out = garbage(batch, m, n);
        Gemm strided = new Gemm(batch, m, n, k, false, false, strideA, (long) k * n, (long) m * n, 1f, 0f);
        run(x -> x.backend.gemm(strided, x.pick(weights), x.pick(b), x.pick(out)));
        check("gemm batch of 3 BF16 A matrices at stride " + strideA, out, gemmTolerance(k));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 1023})
    void gatherFromBf16Table(int vocab) {
        if (!backend.supports(DType.BF16)) return;
        Random rnd = seeded("gather bf16", vocab);
        int dim = 33;
        Twin table = randomBf16(rnd, -3, 3, vocab, dim);
        int[] ids = new int[9];
        for (int i = 0; i < ids.length; i++) ids[i] = rnd.nextInt(vocab);
        Twin out = garbage(3, 3, dim);
        run(k -> k.backend.gather(k.pick(table), ids, k.pick(out)));
        check("gather from a BF16 table, vocab=" + vocab, out, new Tolerance(0, 0));
    }

    /** BF16 is storage for weights: arithmetic kernels, fill, a BF16 output and two BF16 operands are refused. */
    @Test
    void bf16IsRefusedWhereItIsNotAWeightOperand() {
        if (!backend.supports(DType.BF16)) return;
        Tensor weight = mine.allocate(DType.BF16, 4, 4), x = mine.allocate(4, 4);
        backend.upload(new float[16], weight);
        String storage = "a storage type for frozen weights";
        assertMessage(storage, () -> backend.add(x, weight, x), "add with a BF16 input");
        assertMessage(storage, () -> backend.fill(weight, 1), "fill of BF16");
        assertMessage(storage, () -> backend.unary(UnaryOp.GELU_TANH, weight, x), "unary on BF16");
        assertMessage(storage, () -> backend.gemm(Gemm.of(4, 4, 4, false, false), x, x, weight), "gemm into BF16");
        assertMessage("both BF16", () -> backend.gemm(Gemm.of(4, 4, 4, false, false), weight, weight, x),
                "gemm of two BF16 operands");
        assertMessage("copy moves elements without converting", () -> backend.copy(weight, x), "copy BF16 to F32");
    }

    private static void assertMessage(String fragment, Runnable call, String what) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run, what);
        assertTrue(e.getMessage().contains(fragment), what + ": message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }

    // ---- attention pieces ------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void softmaxAndBackward(int keys) {
        Random rnd = seeded("softmax", keys);
        int queries = Math.min(keys, 5);
        int[] shape = {2, 3, queries, keys};
        Twin scores = random(rnd, -8, 8, shape);
        float[] maskValues = new float[2 * keys];   // batch 0: every third key padded; batch 1: all padded
        for (int j = 0; j < keys; j++) maskValues[j] = j % 3 == 2 ? 0 : 1;
        Twin keyMask = values(maskValues, 2, keys);
        for (boolean causal : new boolean[]{false, true}) {
            Twin probs = garbage(shape);
            run(k -> k.backend.softmax(k.pick(scores), 0.125, causal, null, k.pick(probs)));
            check("softmax keys=" + keys + " queries=" + queries + " causal=" + causal, probs, REDUCED);
            Twin masked = garbage(shape);
            run(k -> k.backend.softmax(k.pick(scores), 0.125, causal, k.pick(keyMask), k.pick(masked)));
            check("softmax with padding mask keys=" + keys + " causal=" + causal, masked, REDUCED);
            float[] fullyMasked = backend.download(masked.mine.select(1));
            for (int i = 0; i < fullyMasked.length; i++) {
                assertEquals(0f, fullyMasked[i], 0, "softmax: batch entry 1 has no visible key, element " + i);
            }

            Twin dProbs = random(rnd, -1, 1, shape), dScores = garbage(shape);
            Twin savedProbs = sameValues(masked);
            run(k -> k.backend.softmaxBackward(k.pick(savedProbs), k.pick(dProbs), 0.125, k.pick(dScores)));
            check("softmaxBackward keys=" + keys + " causal=" + causal, dScores, REDUCED);
            run(k -> k.backend.softmaxBackward(k.pick(savedProbs), k.pick(dProbs), 0.125, k.pick(dProbs)));
            check("softmaxBackward in place (dScores = dProbs) keys=" + keys, dProbs, REDUCED);
        }
        run(k -> k.backend.softmax(k.pick(scores), 1, true, k.pick(keyMask), k.pick(scores)));
        check("softmax in place keys=" + keys, scores, REDUCED);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void rope(int steps) {
        Random rnd = seeded("rope", steps);
        int headSize = steps == 1023 ? 8 : 32;
        int[] positions = new int[steps];
        for (int t = 0; t < steps; t++) positions[t] = 3 + t + rnd.nextInt(2) * 1000;   // ragged, up to ~2000
        // plain RoPE, and Llama 3.1's scaling with a short original context so every branch (kept, blended and
        // scaled frequencies) is taken at this head size
        RopeFrequencies[] kinds = {RopeFrequencies.standard(10000, headSize),
                RopeFrequencies.llama3(10000, headSize, 8, 1, 4, 64)};
        for (RopeLayout layout : RopeLayout.values()) {
            for (boolean inverse : new boolean[]{false, true}) {
                RopeFrequencies frequencies = kinds[(layout.ordinal() + (inverse ? 1 : 0)) % 2];
                Twin x = random(rnd, -2, 2, 2, 3, steps, headSize), out = garbage(2, 3, steps, headSize);
                String what = "rope " + layout + (inverse ? " inverse" : "") + " T=" + steps + " " + frequencies;
                run(k -> k.backend.rope(k.pick(x), positions, frequencies, layout, inverse, k.pick(out)));
                check(what, out, REDUCED);
                float[] before = backend.download(x.mine);
                run(k -> k.backend.rope(k.pick(out), positions, frequencies, layout, !inverse, k.pick(out)));
                check(what + " then its inverse in place", out, REDUCED);
                double[] roundTrip = backend.downloadDouble(out.mine);
                compare(what + " then its inverse restores x", roundTrip, toDouble(before), REDUCED);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void ropeWithPositionsPerSequence(int steps) {
        Random rnd = seeded("rope per sequence", steps);
        int batch = 3, heads = 2, headSize = steps == 1023 ? 8 : 32;
        int[] positions = new int[batch * steps];   // (batch, T): sequence b left-padded by b · 2 columns
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < steps; t++) positions[b * steps + t] = Math.max(0, t - 2 * b) + rnd.nextInt(2) * 1000;
        }
        RopeFrequencies frequencies = RopeFrequencies.linear(500000, headSize, 4);
        for (RopeLayout layout : RopeLayout.values()) {
            for (boolean inverse : new boolean[]{false, true}) {
                Twin x = random(rnd, -2, 2, batch, heads, steps, headSize), out = garbage(batch, heads, steps, headSize);
                String what = "rope per sequence " + layout + (inverse ? " inverse" : "") + " T=" + steps;
                run(k -> k.backend.rope(k.pick(x), positions, frequencies, layout, inverse, k.pick(out)));
                check(what, out, REDUCED);
                // each sequence alone, with its row of positions shared, gives the same values
                double[] together = backend.downloadDouble(out.mine);
                int size = heads * steps * headSize;
                for (int b = 0; b < batch; b++) {
                    int[] row = Arrays.copyOfRange(positions, b * steps, (b + 1) * steps);
                    Twin one = x.range(b * size, (b + 1) * size, 1, heads, steps, headSize);
                    Twin alone = garbage(1, heads, steps, headSize);
                    backend.rope(one.mine(), row, frequencies, layout, inverse, alone.mine());
                    compare(what + " sequence " + b + " alone", backend.downloadDouble(alone.mine()),
                            Arrays.copyOfRange(together, b * size, (b + 1) * size), new Tolerance(0, 0));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"2 0 3 1 4", "1 3 0 2 4", "4 3 2 1 0", "0 2 1 3", "3 1 0 2", "1 0", "2 0 1", "0"})
    void permute(String axes) {
        int[] perm = Arrays.stream(axes.split(" ")).mapToInt(Integer::parseInt).toArray();
        int[] shape = Arrays.copyOf(perm.length == 5 ? new int[]{2, 9, 3, 5, 7} : new int[]{7, 1, 33, 3}, perm.length);
        if (perm.length == 1) shape[0] = 1023;
        Random rnd = seeded("permute " + axes, 0);
        Twin x = random(rnd, -1, 1, shape), out = garbage(KernelContract.permutedShape(shape, perm));
        run(k -> k.backend.permute(k.pick(x), perm, k.pick(out)));
        check("permute " + Arrays.toString(shape) + " by " + Arrays.toString(perm), out, new Tolerance(0, 0));
    }

    // ---- embeddings and the loss -----------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void gather(int vocab) {
        Random rnd = seeded("gather", vocab);
        int dim = 33;
        Twin table = random(rnd, -1, 1, vocab, dim);
        int[] ids = new int[9];
        for (int i = 0; i < ids.length; i++) ids[i] = rnd.nextInt(vocab);
        ids[8] = ids[0];
        Twin out = garbage(3, 3, dim);
        run(k -> k.backend.gather(k.pick(table), ids, k.pick(out)));
        check("gather vocab=" + vocab, out, new Tolerance(0, 0));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void crossEntropy(int vocab) {
        Random rnd = seeded("crossEntropy", vocab);
        int rows = 9;
        Twin logits = random(rnd, -20, 20, 3, 3, vocab);
        int[] targets = new int[rows];
        for (int r = 0; r < rows; r++) targets[r] = r % 4 == 1 ? KernelContract.IGNORE_INDEX : rnd.nextInt(vocab);
        Twin dLogits = garbage(3, 3, vocab);
        double[] loss = new double[2];
        run(k -> loss[k.index] = k.backend.crossEntropy(k.pick(logits), targets, 1.0 / 7, k.pick(dLogits)));
        compare("crossEntropy sum vocab=" + vocab, new double[]{loss[0]}, new double[]{loss[1]}, REDUCED);
        check("crossEntropy dLogits vocab=" + vocab, dLogits, REDUCED);
        float[] ignored = backend.download(dLogits.mine.view(rows, vocab).select(1));
        for (float v : ignored) assertEquals(0f, v, 0, "crossEntropy: an ignored row's gradient is zero");

        double[] lossOnly = new double[2];
        run(k -> lossOnly[k.index] = k.backend.crossEntropy(k.pick(logits), targets, 1, null));
        assertEquals(loss[0], lossOnly[0], 1e-9 * Math.abs(loss[0]) + 1e-9, "crossEntropy sum without dLogits");
        run(k -> loss[k.index] = k.backend.crossEntropy(k.pick(logits), targets, -2, k.pick(logits)));
        compare("crossEntropy sum in place vocab=" + vocab, new double[]{loss[0]}, new double[]{loss[1]}, REDUCED);
        check("crossEntropy dLogits in place (dLogits = logits) vocab=" + vocab, logits, REDUCED);

        int[] allIgnored = new int[rows];
        Arrays.fill(allIgnored, KernelContract.IGNORE_INDEX);
        assertEquals(0, backend.crossEntropy(mine.allocate(rows, vocab), allIgnored, 1, null), 0,
                "crossEntropy of only ignored rows");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 33, 1023})
    void argmaxTiesGoToTheLowestIndex(int cols) {
        Random rnd = seeded("argmax", cols);
        int rows = 4;
        float[] values = randomValues(rnd, rows * cols, -1, 1);
        int[] expected = new int[rows];
        for (int r = 0; r < rows; r++) {
            int first = rnd.nextInt(cols);
            expected[r] = first;
            values[r * cols + first] = 2;
            for (int c = first + 1; c < cols; c += 3) values[r * cols + c] = 2;   // later ties
        }
        Twin x = values(values, rows, cols);
        assertArrayEquals(expected, backend.argmax(x.mine), "argmax cols=" + cols + " (expected)");
        assertArrayEquals(reference.argmax(x.ref), backend.argmax(x.mine), "argmax cols=" + cols + " (reference)");
    }

    // ---- argument checks: both backends refuse the same calls ------------------------------------------------

    /** A call that breaks the contract, written once for either backend. */
    private interface BadCall {
        void run(Backend backend, Scope scope);
    }

    @Test
    void bothBackendsRejectTheSameBadArguments() {
        Map<String, BadCall> calls = new LinkedHashMap<>();
        calls.put("add: b's size does not divide a's", (b, s) -> b.add(s.allocate(3, 5), s.allocate(4), s.allocate(3, 5)));
        calls.put("add: out partly overlaps a", (b, s) -> {
            Tensor t = s.allocate(10);
            b.add(t.slice(0, 6), t.slice(0, 6), t.slice(4, 10));
        });
        calls.put("copy: sizes differ", (b, s) -> b.copy(s.allocate(6), s.allocate(7)));
        calls.put("upload: wrong length", (b, s) -> b.upload(new float[5], s.allocate(6)));
        calls.put("layerNorm: gamma of the wrong size", (b, s) ->
                b.layerNorm(s.allocate(2, 8), s.allocate(7), null, 1e-5, s.allocate(2, 8), null, null));
        calls.put("gemm: A too small for its batch", (b, s) ->
                b.gemm(Gemm.batched(3, 4, 5, 6, false, false), s.allocate(2, 4, 6), s.allocate(3, 6, 5), s.allocate(3, 4, 5)));
        calls.put("gemm: C batches overlap", (b, s) ->
                b.gemm(new Gemm(2, 2, 2, 2, false, false, 4, 4, 1, 1, 0), s.allocate(8), s.allocate(8), s.allocate(8)));
        calls.put("softmax: key mask of the wrong shape", (b, s) ->
                b.softmax(s.allocate(2, 1, 3, 4), 1, false, s.allocate(2, 3), s.allocate(2, 1, 3, 4)));
        calls.put("rope: odd head size", (b, s) ->
                b.rope(s.allocate(1, 1, 2, 5), new int[]{0, 1}, RopeFrequencies.standard(10000, 4), RopeLayout.ROTATE_HALF,
                        false, s.allocate(1, 1, 2, 5)));
        calls.put("permute: not a permutation", (b, s) -> b.permute(s.allocate(2, 3, 4), new int[]{0, 0, 1}, s.allocate(2, 2, 3)));
        calls.put("gather: id outside the vocabulary", (b, s) -> b.gather(s.allocate(5, 3), new int[]{0, 5}, s.allocate(2, 3)));
        calls.put("crossEntropy: target outside the vocabulary", (b, s) ->
                b.crossEntropy(s.allocate(2, 4), new int[]{1, 4}, 1, null));
        calls.put("crossEntropy: one target short", (b, s) -> b.crossEntropy(s.allocate(2, 4), new int[]{1}, 1, null));
        // Scopes of one name on both sides, so that the tensors (and the messages naming them) print alike.
        try (Scope referenceScope = new Scope(reference, "bad arguments");
             Scope backendScope = new Scope(backend, "bad arguments")) {
            for (Map.Entry<String, BadCall> call : calls.entrySet()) {
                IllegalArgumentException expected = assertThrows(IllegalArgumentException.class,
                        () -> call.getValue().run(reference, referenceScope), "reference backend: " + call.getKey());
                IllegalArgumentException actual = assertThrows(IllegalArgumentException.class,
                        () -> call.getValue().run(backend, backendScope), backend.name() + " backend: " + call.getKey());
                assertEquals(expected.getMessage(), actual.getMessage(), "same message for " + call.getKey());
            }
        }
    }

    // ---- running a kernel on both backends --------------------------------------------------------------

    /** One side of a comparison: the backend, and which tensor of each {@link Twin} it uses. */
    private record Side(Backend backend, int index) {
        Tensor pick(Twin twin) {
            return index == 0 ? twin.mine : twin.ref;
        }
    }

    private interface Kernel {
        void run(Side side);
    }

    /** Runs the same kernel call on the backend under test (index 0) and on the reference (index 1). */
    private void run(Kernel kernel) {
        kernel.run(new Side(backend, 0));
        kernel.run(new Side(reference, 1));
    }

    private Random seeded(String kernel, int size) {
        return new Random(31L * kernel.hashCode() + size);
    }

    private static float[] randomValues(Random rnd, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return v;
    }

    private Twin random(Random rnd, double lo, double hi, int... shape) {
        return values(randomValues(rnd, (int) Tensor.sizeOf(shape), lo, hi), shape);
    }

    private Twin values(float[] values, int... shape) {
        Twin t = new Twin(paddedView(shape), offsetView(oracle, DType.F64, shape));
        backend.upload(values, t.mine);
        reference.upload(toDouble(values), t.ref);
        return t;
    }

    /** An output pair filled with NaN, so that any element a kernel fails to write shows up. */
    private Twin garbage(int... shape) {
        Twin t = new Twin(paddedView(shape), offsetView(oracle, DType.F64, shape));
        backend.fill(t.mine, Double.NaN);
        reference.fill(t.ref, Double.NaN);
        return t;
    }

    /**
     * A tensor of {@code shape} that starts {@link #PAD} elements into a larger buffer, so that every kernel in the
     * suite reads and writes views at an offset, as slices of activations are.
     */
    private static Tensor offsetView(Scope scope, DType dtype, int... shape) {
        int size = (int) Tensor.sizeOf(shape);
        return scope.allocate(dtype, size + 2 * PAD).slice(PAD, PAD + size).view(shape);
    }

    /** As {@link #offsetView} on the backend under test, with the padding set to the sentinel and checked after. */
    private Tensor paddedView(int... shape) {
        return paddedView(DType.F32, shape);
    }

    /** As {@link #paddedView(int...)} for F32 or BF16 storage (which fill refuses, so the sentinel is uploaded). */
    private Tensor paddedView(DType dtype, int... shape) {
        int size = (int) Tensor.sizeOf(shape);
        Tensor whole = mine.allocate(dtype, size + 2 * PAD);
        float[] sentinels = new float[size + 2 * PAD];
        Arrays.fill(sentinels, PAD_SENTINEL);
        backend.upload(sentinels, whole);
        padded.add(whole);
        return whole.slice(PAD, PAD + size).view(shape);
    }

    /**
     * Random values rounded to bfloat16: a BF16 weight on the backend under test (padded) and the same values, exact,
     * as F64 on the reference.
     */
    private Twin randomBf16(Random rnd, double lo, double hi, int... shape) {
        float[] values = randomValues(rnd, (int) Tensor.sizeOf(shape), lo, hi);
        for (int i = 0; i < values.length; i++) values[i] = HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(values[i]));
        Twin t = new Twin(paddedView(DType.BF16, shape), offsetView(oracle, DType.F64, shape));
        backend.upload(values, t.mine);
        reference.upload(toDouble(values), t.ref);
        return t;
    }

    /** The oracle's values of {@code t}, rounded to float and given to both backends as a new input. */
    private Twin sameValues(Twin t) {
        double[] exact = reference.downloadDouble(t.ref);
        float[] rounded = new float[exact.length];
        for (int i = 0; i < exact.length; i++) rounded[i] = (float) exact[i];
        return values(rounded, t.mine.shape());
    }

    private static double[] toDouble(float[] values) {
        double[] wide = new double[values.length];
        for (int i = 0; i < values.length; i++) wide[i] = values[i];
        return wide;
    }

    /** Tolerance of a float32 product with k terms of magnitude ≤ 1: rounding grows about like √k. */
    private static Tolerance gemmTolerance(int k) {
        return new Tolerance(2e-6 * Math.sqrt(k) + 1e-6 * k / 64, 1e-5);
    }

    private void check(String what, Twin t, Tolerance tol) {
        compare(what, backend.downloadDouble(t.mine), reference.downloadDouble(t.ref), tol);
    }

    /** Fails with the kernel, size and worst element when any element is off by more than the tolerance. */
    private void compare(String what, double[] actual, double[] expected, Tolerance tol) {
        assertEquals(expected.length, actual.length, what + ": element count");
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < actual.length; i++) {
            double bound = tol.atol + tol.rtol * Math.abs(expected[i]);
            double error = Math.abs(actual[i] - expected[i]);
            boolean bothNaN = Double.isNaN(actual[i]) && Double.isNaN(expected[i]);
            if (!bothNaN && !(error <= bound) && (worst < 0 || !(error - bound <= worstExcess))) {
                worst = i;
                worstExcess = Double.isNaN(error) ? Double.POSITIVE_INFINITY : error - bound;
            }
        }
        if (worst >= 0) {
            fail(backend.name() + " " + what + ": worst element " + worst + " of " + actual.length + " is "
                    + actual[worst] + ", reference " + expected[worst] + " (tolerance " + tol.atol + " + " + tol.rtol
                    + "·|ref|)");
        }
    }
}
