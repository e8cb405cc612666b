package dev.promptgrad.json;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Formats a finite double as Python's {@code repr(float)}: the fewest digits that read back as the same double
 * (the nearest such), in fixed notation for decimal exponents -4..15 ({@code 0.0001}, {@code 1000000000000000.0})
 * and else as {@code d.ddde±XX} ({@code 1e-05}, {@code 1e+16}). Java 17's {@link Double#toString} differs in
 * form ({@code 1.0E-5}) and is sometimes not shortest, so it is not used. It has no form for NaN or infinity.
 */
final class PythonFloatRepr {

    private PythonFloatRepr() {
    }

    static String of(double value) {
        if (!Double.isFinite(value)) throw new IllegalArgumentException("no JSON form for " + value);
        if (value == 0) return (1 / value < 0) ? "-0.0" : "0.0";
        String sign = value < 0 ? "-" : "";
        BigDecimal digits = shortestRoundTrip(Math.abs(value)).stripTrailingZeros();
        String significand = digits.unscaledValue().toString();
        int decimalPoint = significand.length() - digits.scale();  // value = 0.significand × 10^decimalPoint
        return sign + layout(significand, decimalPoint);
    }

    /**
     * The shortest decimal that parses back to {@code x} (x > 0), nearest to x among the shortest. The exact
     * binary value is cut once to 20 digits (plus whether anything was cut): every decision below needs no
     * more, and it avoids rounding a ~750-digit exact value again for each candidate length.
     */
    private static BigDecimal shortestRoundTrip(double x) {
        BigDecimal exact = new BigDecimal(x);
        BigDecimal cut = exact.round(new MathContext(20, RoundingMode.DOWN));
        boolean inexact = cut.compareTo(exact) != 0;
        for (int precision = 1; precision <= 17; precision++) {
            BigDecimal below = cut.round(new MathContext(precision, RoundingMode.DOWN));  // largest ≤ x
            if (!inexact && below.compareTo(cut) == 0) return below;  // x itself has this few digits
            BigDecimal above = below.add(below.ulp());                                  // smallest > x
            boolean belowWorks = below.doubleValue() == x;
            boolean aboveWorks = above.doubleValue() == x;
            if (belowWorks && aboveWorks) {
                int side = cut.subtract(below).compareTo(below.ulp().divide(BigDecimal.valueOf(2)));
                if (side == 0) side = inexact ? 1 : (below.unscaledValue().testBit(0) ? 1 : -1);  // tie: even digit
                return side < 0 ? below : above;
            }
            if (belowWorks) return below;
            if (aboveWorks) return above;
        }
        throw new IllegalStateException("no 17-digit decimal reads back as " + x);  // impossible for IEEE doubles
    }

    private static String layout(String significand, int decimalPoint) {
        int n = significand.length();
        if (decimalPoint > -4 && decimalPoint <= 16) {
            if (decimalPoint <= 0) return "0." + "0".repeat(-decimalPoint) + significand;
            if (decimalPoint >= n) return significand + "0".repeat(decimalPoint - n) + ".0";
            return significand.substring(0, decimalPoint) + "." + significand.substring(decimalPoint);
        }
        int exponent = decimalPoint - 1;
        String mantissa = n == 1 ? significand : significand.charAt(0) + "." + significand.substring(1);
        String magnitude = Integer.toString(Math.abs(exponent));
        return mantissa + "e" + (exponent < 0 ? "-" : "+") + (magnitude.length() < 2 ? "0" : "") + magnitude;
    }
}
