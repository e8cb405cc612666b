package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.CountingBackend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a Linear's backward issues, counted by {@link CountingBackend}: one GEMM (dx) for a frozen weight,
 * two for a trainable one, and only dW when the input is a constant.
 */
class LinearCostTest {
    private static final int ROWS = 6, IN = 5, OUT = 7;
    private static final long ONE_PRODUCT = 2L * ROWS * IN * OUT;

    private CountingBackend backend;
    private Scope scope;
    private Workspace workspace;
    private GradientCheck random;

    @BeforeEach
    void open() {
        backend = new CountingBackend(new ReferenceBackend());
        scope = new Scope(backend, "linear cost");
        workspace = new Workspace(backend, DType.F64, "linear cost");
        random = new GradientCheck(backend, scope, 3);
    }

    @AfterEach
    void close() {
        workspace.close();
        scope.close();
        assertEquals(0, backend.liveBytes());
        backend.close();
    }

    /** Runs forward, then counts the GEMMs of backward alone. */
    private List<Gemm> backwardGemms(Linear.Layout layout, boolean xNeedsGrad, boolean weightNeedsGrad) {
        Tape tape = new Tape(backend, workspace);
        Tensor xValue = random.random(1, 2, 3, IN);
        Tensor wValue = layout == Linear.Layout.IN_OUT ? random.random(1, IN, OUT) : random.random(1, OUT, IN);
        Variable x = xNeedsGrad ? tape.parameter(xValue, "x") : tape.constant(xValue, "x");
        Variable w = weightNeedsGrad ? tape.parameter(wValue, "W") : tape.constant(wValue, "W");
        Variable y = Linear.apply(tape, x, w, layout);
        assertEquals(1, backend.gemmCalls(), "forward is one GEMM");
        backend.reset();
        tape.backward(y, random.random(1, 2, 3, OUT));
        return backend.gemms();
    }

    @ParameterizedTest
    @EnumSource(Linear.Layout.class)
    void frozenWeightCostsOneGemm(Linear.Layout layout) {
        List<Gemm> gemms = backwardGemms(layout, true, false);
        assertEquals(1, gemms.size());
        Gemm dx = gemms.get(0);
        assertEquals(ROWS, dx.m());
        assertEquals(IN, dx.n());
        assertEquals(OUT, dx.k());
        assertEquals(ONE_PRODUCT, backend.gemmFlops());
    }

    @ParameterizedTest
    @EnumSource(Linear.Layout.class)
    void trainableWeightCostsTwoGemms(Linear.Layout layout) {
        List<Gemm> gemms = backwardGemms(layout, true, true);
        assertEquals(2, gemms.size());
        assertEquals(2 * ONE_PRODUCT, backend.gemmFlops());
        assertTrue(gemms.stream().anyMatch(g -> g.k() == ROWS), "one of them reduces over the rows: dW");
    }

    @ParameterizedTest
    @EnumSource(Linear.Layout.class)
    void constantInputCostsOnlyTheWeightGradient(Linear.Layout layout) {
        List<Gemm> gemms = backwardGemms(layout, false, true);
        assertEquals(1, gemms.size());
        assertEquals(ROWS, gemms.get(0).k());
        assertEquals(ONE_PRODUCT, backend.gemmFlops());
    }
}
