package dev.promptgrad.ops;

import dev.promptgrad.autograd.Gradients;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test support: checks an op's (or a model's) analytic gradients against central finite differences
 * (a five-point stencil) in float64 on the backend it is given (the reference one, F64 tensors). The loss is
 * {@code L = Σ out · R} with R random, so R is the seed of the backward pass. Each input is checked as the
 * only parameter and with all inputs as parameters at once, which exercises every {@code needs(i)} branch.
 */
final class GradientCheck {

    /** Builds the computation on a tape from the input variables, in the order given to {@link #check}. */
    interface Forward {
        Variable apply(Tape tape, Variable[] inputs);
    }

    /** The largest relative error accepted between analytic and numerical gradients. */
    static final double TOLERANCE = 1e-6;

    /**
     * Relative errors are {@code |a − n| / max(|a| + |n|, FLOOR · scale)}, scale being the largest gradient
     * element of that input: an element far below the scale (or exactly 0, as masked ones are) must still
     * agree to {@code TOLERANCE · FLOOR · scale} in absolute terms.
     */
    static final double FLOOR = 1e-8;

    /**
     * The finite-difference step, relative to the element's magnitude (at least 1). The five-point stencil's
     * truncation error is O(h⁴) (about 1e-12 here) and its rounding error about 1e-16 / h, so 1e-3 balances
     * the two; a two-point stencil with h = 1e-6 leaves errors near 1e-7, too close to the tolerance.
     */
    static final double STEP = 1e-3;

    private final Backend backend;
    private final Scope scope;
    private final Random random;

    GradientCheck(Backend backend, Scope scope, long seed) {
        this.backend = backend;
        this.scope = scope;
        this.random = new Random(seed);
    }

    /** An F64 tensor of uniform values in [−amplitude, amplitude). */
    Tensor random(double amplitude, int... shape) {
        return around(0, amplitude, shape);
    }

    /** An F64 tensor of uniform values in [center − amplitude, center + amplitude), e.g. a norm's gain near 1. */
    Tensor around(double center, double amplitude, int... shape) {
        double[] values = new double[Math.toIntExact(Tensor.sizeOf(shape))];
        for (int i = 0; i < values.length; i++) values[i] = center + amplitude * (2 * random.nextDouble() - 1);
        return scope.of(DType.F64, values, shape);
    }

    /** An F64 tensor holding {@code values}. */
    Tensor of(double[] values, int... shape) {
        return scope.of(DType.F64, values, shape);
    }

    /** Checks dL/dInput for every input, failing with the input's name and the worst element on a mismatch. */
    void check(String what, Forward forward, String[] names, Tensor... inputs) {
        if (names.length != inputs.length) throw new IllegalArgumentException(what + ": one name per input");
        try (Workspace workspace = new Workspace(backend, DType.F64, "gradient check of " + what)) {
            Tape tape = new Tape(backend, workspace);
            boolean[] all = new boolean[inputs.length];
            Arrays.fill(all, true);
            Variable[] together = variables(tape, inputs, all);
            Variable out = forward.apply(tape, together);
            Tensor seed = random(1, out.shape());
            double[][] analyticAll = download(tape.backward(out, seed), together);
            for (int i = 0; i < inputs.length; i++) {
                String label = what + ", d/d" + names[i];
                double[] analytic = analyticAll[i];
                if (inputs.length > 1) {
                    boolean[] only = new boolean[inputs.length];
                    only[i] = true;
                    tape.reset();
                    Variable[] vars = variables(tape, inputs, only);
                    double[] alone = download(tape.backward(forward.apply(tape, vars), seed), vars)[i];
                    assertArrayEquals(analytic, alone, 1e-12 * (1 + maxAbs(analytic)),
                            label + ": the gradient changes when the other inputs need none");
                }
                tape.reset();
                compare(label, analytic, numerical(tape, forward, inputs, i, seed));
            }
        }
    }

    private static Variable[] variables(Tape tape, Tensor[] inputs, boolean[] parameters) {
        Variable[] vars = new Variable[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            vars[i] = parameters[i] ? tape.parameter(inputs[i], "input" + i) : tape.constant(inputs[i], "input" + i);
        }
        return vars;
    }

    private double[][] download(Gradients grads, Variable[] vars) {
        double[][] result = new double[vars.length][];
        for (int i = 0; i < vars.length; i++) {
            if (vars[i].requiresGrad()) result[i] = backend.downloadDouble(grads.of(vars[i]));
        }
        return result;
    }

    /** dL/dInput[index] by central differences, each element perturbed in turn (inputs are restored after). */
    private double[] numerical(Tape tape, Forward forward, Tensor[] inputs, int index, Tensor seed) {
        double[] r = backend.downloadDouble(seed);
        double[] x = backend.downloadDouble(inputs[index]);
        double[] gradient = new double[x.length];
        for (int j = 0; j < x.length; j++) {
            double original = x[j];
            double h = STEP * Math.max(1, Math.abs(original));
            double near = difference(tape, forward, inputs, index, x, j, h, r);
            double far = difference(tape, forward, inputs, index, x, j, 2 * h, r);
            // five-point central stencil: (8·(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h, error O(h⁴)
            gradient[j] = (8 * near - far) / (12 * h);
        }
        backend.upload(x, inputs[index]);
        return gradient;
    }

    /** f(x + step) − f(x − step) for element j of input {@code index}. */
    private double difference(Tape tape, Forward forward, Tensor[] inputs, int index, double[] x, int j, double step,
                              double[] r) {
        double original = x[j];
        x[j] = original + step;
        double plus = loss(tape, forward, inputs, index, x, r);
        x[j] = original - step;
        double minus = loss(tape, forward, inputs, index, x, r);
        x[j] = original;
        return plus - minus;
    }

    /** Σ out · R with input {@code index} set to {@code x}; nothing is recorded since all inputs are constants. */
    private double loss(Tape tape, Forward forward, Tensor[] inputs, int index, double[] x, double[] r) {
        backend.upload(x, inputs[index]);
        tape.reset();
        Variable output = forward.apply(tape, variables(tape, inputs, new boolean[inputs.length]));
        double[] out = backend.downloadDouble(output.value());
        double sum = 0;
        for (int i = 0; i < out.length; i++) sum += out[i] * r[i];
        return sum;
    }

    /** Fails on the worst element if any relative error exceeds {@link #TOLERANCE}. */
    private static void compare(String label, double[] analytic, double[] numerical) {
        double scale = Math.max(maxAbs(analytic), maxAbs(numerical));
        if (scale == 0) fail(label + ": the gradient is identically zero, so the check would prove nothing");
        double worst = 0;
        int worstAt = 0;
        for (int j = 0; j < analytic.length; j++) {
            double a = analytic[j];
            double n = numerical[j];
            double error = Math.abs(a - n) / Math.max(Math.abs(a) + Math.abs(n), FLOOR * scale);
            if (error > worst) {
                worst = error;
                worstAt = j;
            }
        }
        final int at = worstAt;
        final double err = worst;
        assertTrue(worst < TOLERANCE, () -> label + ": relative error " + err + " at element " + at + " (analytic "
                + analytic[at] + ", numerical " + numerical[at] + ", gradient scale " + scale + ")");
    }

    private static double maxAbs(double[] values) {
        double m = 0;
        for (double v : values) m = Math.max(m, Math.abs(v));
        return m;
    }
}
