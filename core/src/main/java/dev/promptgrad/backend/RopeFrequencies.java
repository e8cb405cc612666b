package dev.promptgrad.backend;

import java.util.Arrays;
import java.util.Locale;

/**
 * The angular frequency of each rotated pair of rotary position embedding (RoPE): pair j of a head of headSize
 * features turns by {@code position · inverse(j)} radians. Plain RoPE has {@code inverse(j) = θ^(−2j/headSize)};
 * Hugging Face's {@code rope_scaling} types {@code linear} and {@code llama3} rescale those frequencies to stretch a
 * model's context. Immutable and validated; it computes the frequencies in double, it rotates nothing
 * ({@link Backend#rope} does).
 */
public final class RopeFrequencies {

    private final double[] inverse;   // (headSize / 2): radians per position of each pair
    private final String description;

    private RopeFrequencies(double[] inverse, String description) {
        this.inverse = inverse;
        this.description = description;
    }

    /**
     * Plain RoPE. PyTorch (HF): {@code inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2) / dim))}.
     */
    public static RopeFrequencies standard(double theta, int headSize) {
        return new RopeFrequencies(base(theta, headSize), "θ " + number(theta));
    }

    /**
     * Hugging Face's {@code rope_type: "linear"} (position interpolation): every frequency divided by
     * {@code factor}, i.e. positions squeezed by it. PyTorch (HF): {@code inv_freq /= factor}.
     */
    public static RopeFrequencies linear(double theta, int headSize, double factor) {
        checkFactor(factor);
        double[] inverse = base(theta, headSize);
        for (int j = 0; j < inverse.length; j++) inverse[j] /= factor;
        return new RopeFrequencies(inverse, "θ " + number(theta) + ", linear scaling by " + number(factor));
    }

    /**
     * Hugging Face's {@code rope_type: "llama3"} (Llama 3.1 and later): with {@code wavelength = 2π / inverse(j)},
     * pairs of wavelength shorter than {@code originalContext / highFreqFactor} keep their frequency, pairs longer
     * than {@code originalContext / lowFreqFactor} have it divided by {@code factor}, and those between blend the two
     * with {@code smooth = (originalContext / wavelength − lowFreqFactor) / (highFreqFactor − lowFreqFactor)}:
     * {@code (1 − smooth) · inverse / factor + smooth · inverse}. Computed in double (Hugging Face uses float32).
     */
    public static RopeFrequencies llama3(double theta, int headSize, double factor, double lowFreqFactor,
                                         double highFreqFactor, int originalContext) {
        checkFactor(factor);
        if (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || Double.isInfinite(highFreqFactor)) {
            throw new IllegalArgumentException("llama3 RoPE scaling needs 0 < low_freq_factor < high_freq_factor,"
                    + " not " + lowFreqFactor + " and " + highFreqFactor);
        }
        if (originalContext < 1) {
            throw new IllegalArgumentException("llama3 RoPE scaling needs original_max_position_embeddings ≥ 1, not "
                    + originalContext);
        }
        double lowFreqWavelength = originalContext / lowFreqFactor;
        double highFreqWavelength = originalContext / highFreqFactor;
        double[] inverse = base(theta, headSize);
        for (int j = 0; j < inverse.length; j++) {
            double wavelength = 2 * Math.PI / inverse[j];
            if (wavelength < highFreqWavelength) continue;   // high frequencies: unchanged
            if (wavelength > lowFreqWavelength) {             // low frequencies: scaled down
                inverse[j] /= factor;
            } else {                                          // in between: blended
                double smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                inverse[j] = (1 - smooth) * inverse[j] / factor + smooth * inverse[j];
            }
        }
        return new RopeFrequencies(inverse, "θ " + number(theta) + ", llama3 scaling (factor " + number(factor)
                + ", low_freq_factor " + number(lowFreqFactor) + ", high_freq_factor " + number(highFreqFactor)
                + ", original context " + originalContext + ")");
    }

    /** The head size these frequencies rotate: twice {@link #pairs()}. */
    public int headSize() {
        return 2 * inverse.length;
    }

    /** Rotated pairs per head. */
    public int pairs() {
        return inverse.length;
    }

    /** Radians per position of pair {@code j}. */
    public double inverse(int j) {
        return inverse[j];
    }

    /** All of them, a copy: (headSize / 2). */
    public double[] toArray() {
        return inverse.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RopeFrequencies other && Arrays.equals(inverse, other.inverse);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(inverse);
    }

    /** E.g. "RoPE θ 500000, llama3 scaling (factor 32, …) over head size 64". */
    @Override
    public String toString() {
        return "RoPE " + description + " over head size " + headSize();
    }

    private static double[] base(double theta, int headSize) {
        if (!(theta > 0) || Double.isInfinite(theta)) {
            throw new IllegalArgumentException("RoPE theta must be finite and > 0, not " + theta);
        }
        if (headSize < 2 || headSize % 2 != 0) {
            throw new IllegalArgumentException("RoPE needs an even head size of at least 2, not " + headSize);
        }
        double[] inverse = new double[headSize / 2];
        for (int j = 0; j < inverse.length; j++) inverse[j] = Math.pow(theta, -2.0 * j / headSize);
        return inverse;
    }

    private static void checkFactor(double factor) {
        if (!(factor >= 1) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("a RoPE scaling factor must be finite and at least 1, not " + factor);
        }
    }

    private static String number(double value) {
        return value == Math.rint(value) && Math.abs(value) < 1e15 ? Long.toString((long) value)
                : String.format(Locale.ROOT, "%s", value);
    }
}
