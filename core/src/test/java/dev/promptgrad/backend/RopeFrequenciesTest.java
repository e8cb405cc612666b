package dev.promptgrad.backend;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RoPE's per-pair frequencies, worked by hand: θ 10000 over a head of 8 gives 1, 0.1, 0.01 and 0.001 radians per
 * position, whose wavelengths 2π/f are 6.3, 63, 628 and 6283 positions. The scaled kinds are checked pair by pair
 * against Hugging Face's rules; bad settings are refused with the setting named.
 */
class RopeFrequenciesTest {

    @Test
    void plainRopeIsThetaToTheMinusTwoJOverHeadSize() {
        assertArrayEquals(new double[]{1, 0.1, 0.01, 0.001}, RopeFrequencies.standard(10000, 8).toArray(), 1e-15);
        assertEquals(8, RopeFrequencies.standard(10000, 8).headSize());
        assertEquals("RoPE θ 10000 over head size 8", RopeFrequencies.standard(10000, 8).toString());
    }

    @Test
    void linearScalingDividesEveryFrequency() {
        assertArrayEquals(new double[]{0.25, 0.025, 0.0025, 0.00025}, RopeFrequencies.linear(10000, 8, 4).toArray(),
                1e-15);
    }

    @Test
    void llama3KeepsShortWavelengthsScalesLongOnesAndBlendsBetween() {
        // original context 64, low_freq_factor 1, high_freq_factor 4: wavelengths under 64/4 = 16 are kept, over
        // 64/1 = 64 divided by the factor 8, and 62.8 (pair 1) blended with smooth = (64/62.8 − 1)/(4 − 1)
        double[] f = RopeFrequencies.llama3(10000, 8, 8, 1, 4, 64).toArray();
        double smooth = (64 / (2 * Math.PI / 0.1) - 1) / 3;
        assertArrayEquals(new double[]{1, (1 - smooth) * 0.1 / 8 + smooth * 0.1, 0.01 / 8, 0.001 / 8}, f, 1e-15);
        assertTrue(smooth > 0 && smooth < 1, "pair 1 lies in the blended band: " + smooth);
        // a factor of 1 changes nothing, whatever the band
        assertEquals(RopeFrequencies.standard(10000, 8), RopeFrequencies.llama3(10000, 8, 1, 1, 4, 64));
    }

    @Test
    void badSettingsAreRefusedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RopeFrequencies.standard(0, 8)).getMessage()
                .contains("RoPE theta must be finite and > 0, not 0.0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RopeFrequencies.standard(1e4, 7)).getMessage()
                .contains("even head size of at least 2, not 7"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RopeFrequencies.linear(1e4, 8, 0.5))
                .getMessage().contains("scaling factor must be finite and at least 1, not 0.5"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RopeFrequencies.llama3(1e4, 8, 8, 4, 1, 64))
                .getMessage().contains("0 < low_freq_factor < high_freq_factor, not 4.0 and 1.0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RopeFrequencies.llama3(1e4, 8, 8, 1, 4, 0))
                .getMessage().contains("original_max_position_embeddings ≥ 1, not 0"));
    }
}
