package dev.promptgrad.backend;

/**
 * The element-wise activations a backend must run, each with its local derivative beside its forward
 * rule (micrograd's pattern). These double-precision formulas are the specification: the reference
 * backend uses them as written and every other backend is tested against it.
 */
public enum UnaryOp {
    /** GPT-2's {@code gelu_new}: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    GELU_TANH {
        @Override
        public double apply(double x) {
            double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
            return 0.5 * x * (1 + Math.tanh(u));
        }

        @Override
        public double derivative(double x) {
            double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
            double t = Math.tanh(u);
            double du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
        }
    },
    /** BERT's exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2)). */
    GELU_ERF {
        @Override
        public double apply(double x) {
            return 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
        }

        @Override
        public double derivative(double x) {
            return 0.5 * (1 + Erf.erf(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
        }
    },
    /** Llama's SiLU: x·σ(x). */
    SILU {
        @Override
        public double apply(double x) {
            return x / (1 + Math.exp(-x));
        }

        @Override
        public double derivative(double x) {
            double s = 1 / (1 + Math.exp(-x));
            return s * (1 + x * (1 - s));
        }
    };

    static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    /** f(x). */
    public abstract double apply(double x);

    /** f'(x). */
    public abstract double derivative(double x);
}
