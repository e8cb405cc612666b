package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The finite-difference checker itself: it must reject a wrong backward, not only accept right ones. */
class GradientCheckTest {
    private ReferenceBackend backend;
    private Scope scope;
    private GradientCheck check;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        scope = new Scope(backend, "gradient check test");
        check = new GradientCheck(backend, scope, 5);
    }

    @AfterEach
    void close() {
        scope.close();
        backend.close();
    }

    /** SiLU whose backward forgets a term: dx = dy · σ(x) instead of dy · σ(x)(1 + x(1 − σ(x))). */
    private static final class WrongSilu implements Function {
        private final Tape tape;
        private final Tensor x;

        WrongSilu(Tape tape, Tensor x) {
            this.tape = tape;
            this.x = x;
        }

        static Variable apply(Tape tape, Variable x) {
            Tensor y = tape.allocate(x.shape());
            tape.backend().unary(UnaryOp.SILU, x.value(), y);
            return tape.record(new WrongSilu(tape, x.value()), y, x);
        }

        @Override
        public String name() {
            return "wrong_silu";
        }

        @Override
        public void backward(Tensor dOut, InputGrads grads) {
            double[] xs = tape.backend().downloadDouble(x);
            double[] dy = tape.backend().downloadDouble(dOut);
            for (int i = 0; i < xs.length; i++) dy[i] /= 1 + Math.exp(-xs[i]);
            tape.backend().upload(dy, grads.into(0));
        }
    }

    @Test
    void rejectsAWrongBackward() {
        AssertionFailedError failure = assertThrows(AssertionFailedError.class, () -> check.check("wrong silu",
                (tape, in) -> WrongSilu.apply(tape, in[0]), new String[] {"x"}, check.random(2, 3, 4)));
        assertTrue(failure.getMessage().contains("wrong silu, d/dx"), failure.getMessage());
    }

    @Test
    void rejectsAGradientThatIsIdenticallyZero() {
        Tensor x = check.random(1, 3, 4);
        Tensor zeros = check.of(new double[12], 3, 4);
        assertThrows(AssertionFailedError.class, () -> check.check("times zero",
                (tape, in) -> SwiGlu.apply(tape, in[0], tape.constant(zeros, "zeros")), new String[] {"x"}, x));
    }
}
