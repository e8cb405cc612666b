package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.ops.Rope;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused Llama layer's backward against five-point finite differences in float64 on the reference backend:
 * dL/dx for L = Σ y·r with random r, through every bias, grouped-query attention with an explicit head size,
 * padding, per-sequence RoPE positions of both layouts (with Llama 3.1's scaling in one case), and fewer output rows
 * than positions. The golden fixtures check the same layer against PyTorch in float32.
 */
class FusedLlamaBlockTest {
    private static final double STEP = 1e-3;

    @ParameterizedTest(name = "kvHeads {0}, queries {1}, {2}, scaled RoPE {3}")
    @CsvSource({"2, 4, ROTATE_HALF, false", "2, 2, INTERLEAVED, true", "4, 1, ROTATE_HALF, true"})
    void backwardMatchesFiniteDifferences(int kvHeads, int queries, RopeLayout layout, boolean scaled) {
        int batch = 2, length = 4, dim = 6, heads = 4, headSize = 4, hidden = 5;
        Random random = new Random(17L * kvHeads + queries);
        try (ReferenceBackend backend = new ReferenceBackend(); Scope scope = new Scope(backend, "fused llama");
             Workspace workspace = new Workspace(backend, DType.F64, "fused llama")) {
            FusedLlamaBlock.Weights w = new FusedLlamaBlock.Weights(
                    values(scope, random, 1, 0.2, dim),
                    values(scope, random, 0, 0.5, heads * headSize, dim), values(scope, random, 0, 0.2, heads * headSize),
                    values(scope, random, 0, 0.5, kvHeads * headSize, dim), values(scope, random, 0, 0.2, kvHeads * headSize),
                    values(scope, random, 0, 0.5, kvHeads * headSize, dim), values(scope, random, 0, 0.2, kvHeads * headSize),
                    values(scope, random, 0, 0.5, dim, heads * headSize), values(scope, random, 0, 0.2, dim),
                    values(scope, random, 1, 0.2, dim),
                    values(scope, random, 0, 0.5, hidden, dim), values(scope, random, 0, 0.2, hidden),
                    values(scope, random, 0, 0.5, hidden, dim), values(scope, random, 0, 0.2, hidden),
                    values(scope, random, 0, 0.5, dim, hidden), values(scope, random, 0, 0.2, dim));
            RopeFrequencies frequencies = scaled ? RopeFrequencies.llama3(100, headSize, 4, 1, 4, 8)
                    : RopeFrequencies.standard(100, headSize);
            // sequence 1 is left-padded by one column: its keys sit at positions 0, 0, 1, 2
            Rope.Settings rope = new Rope.Settings(layout, frequencies, new int[]{3, 4, 5, 6, 0, 0, 1, 2});
            Tensor keyMask = scope.of(DType.F64, new double[]{1, 1, 1, 1, 0, 1, 1, 1}, batch, length);
            Tensor x = values(scope, random, 0, 1, batch, length, dim);
            Tensor seed = values(scope, random, 0, 1, batch, queries, dim);

            Tape tape = new Tape(backend, workspace);
            Variable input = tape.parameter(x, "x");
            Variable y = FusedLlamaBlock.apply(tape, input, w, heads, kvHeads, headSize, 1e-6, rope, keyMask, queries);
            double[] analytic = backend.downloadDouble(tape.backward(y, seed).of(input));

            double[] r = backend.downloadDouble(seed), xs = backend.downloadDouble(x);
            double worst = 0, scale = 0;
            for (double a : analytic) scale = Math.max(scale, Math.abs(a));
            for (int j = 0; j < xs.length; j++) {
                double near = difference(backend, tape, x, xs, j, STEP, r, w, heads, kvHeads, headSize, rope, keyMask,
                        queries);
                double far = difference(backend, tape, x, xs, j, 2 * STEP, r, w, heads, kvHeads, headSize, rope,
                        keyMask, queries);
                double numeric = (8 * near - far) / (12 * STEP);   // five-point central stencil, error O(h⁴)
                worst = Math.max(worst, Math.abs(numeric - analytic[j]) / Math.max(scale, 1e-12));
            }
            assertTrue(scale > 1e-3, "the gradient vanished, so the check would test nothing: " + scale);
            assertTrue(worst < 1e-8, "dL/dx is off by " + worst + " of its largest element");
        }
    }

    /** L(x + step·e_j) − L(x − step·e_j), with L = Σ y·r. */
    private static double difference(ReferenceBackend backend, Tape tape, Tensor x, double[] xs, int j, double step,
                                      double[] r, FusedLlamaBlock.Weights w, int heads, int kvHeads, int headSize,
                                      Rope.Settings rope, Tensor keyMask, int queries) {
        double[] shifted = xs.clone();
        shifted[j] = xs[j] + step;
        double plus = loss(backend, tape, x, shifted, r, w, heads, kvHeads, headSize, rope, keyMask, queries);
        shifted[j] = xs[j] - step;
        double minus = loss(backend, tape, x, shifted, r, w, heads, kvHeads, headSize, rope, keyMask, queries);
        backend.upload(xs, x);
        return plus - minus;
    }

    private static double loss(ReferenceBackend backend, Tape tape, Tensor x, double[] values, double[] r,
                               FusedLlamaBlock.Weights w, int heads, int kvHeads, int headSize, Rope.Settings rope,
                               Tensor keyMask, int queries) {
        backend.upload(values, x);
        tape.reset();
        Variable y = FusedLlamaBlock.apply(tape, tape.constant(x, "x"), w, heads, kvHeads, headSize, 1e-6, rope,
                keyMask, queries);
        double[] ys = backend.downloadDouble(y.value());
        double sum = 0;
        for (int i = 0; i < ys.length; i++) sum += ys[i] * r[i];
        return sum;
    }

    private static Tensor values(Scope scope, Random random, double center, double amplitude, int... shape) {
        double[] v = new double[Math.toIntExact(Tensor.sizeOf(shape))];
        for (int i = 0; i < v.length; i++) v[i] = center + amplitude * (2 * random.nextDouble() - 1);
        return scope.of(DType.F64, v, shape);
    }
}
