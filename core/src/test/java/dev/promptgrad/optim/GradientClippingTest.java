package dev.promptgrad.optim;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.promptgrad.optim.AdamTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** clipByGlobalNorm against torch.nn.utils.clip_grad_norm_, by hand, and on non-finite gradients. */
class GradientClippingTest {

    @Test
    void matchesTorchClipGradNorm() {
        Map<String, Object> fixture = FixtureJson.load("clip_grad_norm.json");
        List<Object> cases = FixtureJson.list(fixture.get("cases"));
        assertEquals(2, cases.size());
        for (Object c : cases) {
            Map<String, Object> json = FixtureJson.object(c);
            double maxNorm = FixtureJson.number(json.get("max_norm"));
            List<float[]> grads = new ArrayList<>();
            for (Object g : FixtureJson.list(json.get("grads"))) grads.add(FixtureJson.floats(g));
            double total = GradientClipping.clipByGlobalNorm(grads, maxNorm);
            assertEquals(FixtureJson.number(json.get("total_norm")), total, 1e-6 * total, "total norm, max " + maxNorm);
            List<Object> clipped = FixtureJson.list(json.get("clipped"));
            for (int k = 0; k < grads.size(); k++) {
                TrajectoryFixture.compare(FixtureJson.floats(clipped.get(k)), grads.get(k), 1e-6,
                        "clipped gradient " + k + " at max norm " + maxNorm);
            }
        }
    }

    @Test
    void clipsAKnownVectorToTheMaxNorm() {
        float[] a = {3f, 0f}, b = {4f};
        double total = GradientClipping.clipByGlobalNorm(List.of(a, b), 1.0);
        assertEquals(5.0, total, 0.0);
        double scale = 1.0 / (5.0 + 1e-6);
        assertArrayEquals(new float[]{(float) (3 * scale), 0f}, a, 1e-7f);
        assertArrayEquals(new float[]{(float) (4 * scale)}, b, 1e-7f);
    }

    @Test
    void leavesGradientsBelowTheMaxNormUnchanged() {
        float[] g = {0.3f, -0.4f};
        assertEquals(0.5, GradientClipping.clipByGlobalNorm(g, 1.0), 1e-7);
        assertArrayEquals(new float[]{0.3f, -0.4f}, g);
        assertEquals(0.0, GradientClipping.clipByGlobalNorm(List.of(), 1.0));
    }

    @Test
    void nonFiniteNormIsReturnedAndGradientsAreLeftAlone() {
        float[] nan = {1f, Float.NaN, 100f};
        assertTrue(Double.isNaN(GradientClipping.clipByGlobalNorm(nan, 1.0)));
        assertArrayEquals(new float[]{1f, Float.NaN, 100f}, nan);

        float[] inf = {Float.POSITIVE_INFINITY, 100f};
        float[] other = {50f};
        assertEquals(Double.POSITIVE_INFINITY, GradientClipping.clipByGlobalNorm(List.of(inf, other), 1.0));
        assertArrayEquals(new float[]{Float.POSITIVE_INFINITY, 100f}, inf);
        assertArrayEquals(new float[]{50f}, other);
    }

    @Test
    void largeFiniteGradientsDoNotOverflowTheNorm() {
        float[] g = {3e38f, 3e38f};
        double total = GradientClipping.clipByGlobalNorm(g, 1.0);
        assertEquals(3e38 * Math.sqrt(2), total, 1e33);
        assertEquals(Math.sqrt(0.5), g[0], 1e-6);
    }

    @Test
    void badArgumentsAreRejected() {
        assertMessage(() -> GradientClipping.clipByGlobalNorm(new float[2], 0.0), "max norm 0.0 must be a finite number > 0");
        assertMessage(() -> GradientClipping.clipByGlobalNorm(new float[2], Double.NaN), "max norm NaN");
        List<float[]> withNull = new ArrayList<>();
        withNull.add(new float[1]);
        withNull.add(null);
        assertMessage(() -> GradientClipping.clipByGlobalNorm(withNull, 1.0), "gradient 1 of 2 is null");
    }
}
