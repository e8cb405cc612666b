package dev.promptgrad.optim;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

import static dev.promptgrad.optim.AdamTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Adafactor against HF's algorithm run in torch, by hand, across save/restore, and on bad settings. */
class AdafactorTest {

    private static Adafactor fromFixture(TrajectoryFixture fixture) {
        Object beta1 = fixture.settings().get("beta1");
        Adafactor.Settings settings = new Adafactor.Settings(fixture.setting("eps1"), fixture.setting("eps2"),
                fixture.setting("clip_threshold"), fixture.setting("decay_rate"),
                beta1 == null ? OptionalDouble.empty() : OptionalDouble.of((Double) beta1),
                fixture.setting("weight_decay"), (Boolean) fixture.settings().get("scale_parameter"));
        return new Adafactor(fixture.parameters(), settings);
    }

    @Test
    void lesterPresetFollowsHuggingFaceAdafactor() {
        TrajectoryFixture fixture = TrajectoryFixture.load("adafactor_lester.json");
        Adafactor adafactor = fromFixture(fixture);
        assertEquals(Adafactor.Settings.LESTER_PROMPT_TUNING, adafactor.settings(), "the fixture uses Lester's preset");
        assertEquals(Adafactor.LESTER_LEARNING_RATE, fixture.schedule().rate(7));
        // reductions are summed in double where torch sums in float32, so agreement is to rounding, not bitwise
        fixture.replay(adafactor, 1e-6);
    }

    @Test
    void generalSettingsFollowHuggingFaceAdafactor() {
        // scale_parameter, beta1, clip threshold 0.5, decay -0.6, a linear schedule and a rank-3 parameter
        TrajectoryFixture fixture = TrajectoryFixture.load("adafactor_general.json");
        fixture.replay(fromFixture(fixture), 1e-6);
    }

    @Test
    void firstLesterStepOnAVectorMovesByLearningRateTimesSign() {
        float[] p = {1f, -2f, 0.5f};
        float[] g = {0.02f, -7f, 3f};
        Adafactor adafactor = Adafactor.lesterPromptTuning(Parameter.of("prompt", 3));
        adafactor.step(p, g, Adafactor.LESTER_LEARNING_RATE);
        // β2 at step 1 is 0, so v = g² + 1e-30, update = g/|g| with RMS 1 (no clipping);
        // p ← p·(1 − 1e-5·0.3) − 0.3·sign(g)
        float keep = 1 - 3e-6f;
        assertArrayEquals(new float[]{1f * keep - 0.3f, -2f * keep + 0.3f, 0.5f * keep - 0.3f}, p, 1e-6f);
    }

    @Test
    void factoredSecondMomentIsExactForARankOneSquaredGradient() {
        // g_ij = a_i·b_j, so g² is rank one and row ⊗ col / mean(row) reproduces it: the update is sign(g)
        float[] a = {1f, -2f, 0.5f}, b = {3f, 0.25f, -1f, 2f};
        float[] g = new float[12], p = new float[12];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) g[i * 4 + j] = a[i] * b[j];
        Adafactor adafactor = new Adafactor(List.of(Parameter.of("prompt", 3, 4)),
                new Adafactor.Settings(1e-30, 1e-3, 1.0, -0.8, OptionalDouble.empty(), 0.0, false));
        adafactor.step(p, g, 0.1);
        for (int i = 0; i < 12; i++) assertEquals(-0.1f * Math.signum(g[i]), p[i], 1e-6f, "element " + i);
        Map<String, float[]> state = adafactor.state();
        // row averages: mean_j g²_ij = a_i²·mean(b²); column averages: mean_i g²_ij = b_j²·mean(a²)
        float meanB2 = (9f + 0.0625f + 1f + 4f) / 4, meanA2 = (1f + 4f + 0.25f) / 3;
        assertArrayEquals(new float[]{meanB2, 4 * meanB2, 0.25f * meanB2}, state.get("prompt.exp_avg_sq_row"), 1e-5f);
        assertArrayEquals(new float[]{9 * meanA2, 0.0625f * meanA2, meanA2, 4 * meanA2}, state.get("prompt.exp_avg_sq_col"), 1e-5f);
    }

    @Test
    void updateRmsIsClippedToTheThreshold() {
        // at step 1 every element of the update is ±1, so its RMS is 1 and a threshold of 0.25 scales it by 1/4
        float[] p = new float[4];
        Adafactor adafactor = new Adafactor(List.of(Parameter.of("prompt", 4)),
                new Adafactor.Settings(1e-30, 1e-3, 0.25, -0.8, OptionalDouble.empty(), 0.0, false));
        adafactor.step(p, new float[]{5f, -1e-3f, 2f, 1f}, 1.0);
        assertArrayEquals(new float[]{-0.25f, 0.25f, -0.25f, -0.25f}, p, 1e-6f);
    }

    @Test
    void stateSlotsFollowTheParameterRank() {
        Adafactor plain = Adafactor.lesterPromptTuning(Parameter.of("prompt", 20, 8), Parameter.of("scale", 5));
        Map<String, float[]> state = plain.state();
        assertEquals(List.of("prompt.exp_avg_sq_row", "prompt.exp_avg_sq_col", "scale.exp_avg_sq"),
                new ArrayList<>(state.keySet()));
        assertEquals(20, state.get("prompt.exp_avg_sq_row").length);
        assertEquals(8, state.get("prompt.exp_avg_sq_col").length);

        Adafactor withMomentum = new Adafactor(List.of(Parameter.of("batched", 2, 3, 4)),
                new Adafactor.Settings(1e-30, 1e-3, 1.0, -0.8, OptionalDouble.of(0.9), 0.0, true));
        Map<String, float[]> batched = withMomentum.state();
        assertEquals(List.of("batched.exp_avg", "batched.exp_avg_sq_row", "batched.exp_avg_sq_col"),
                new ArrayList<>(batched.keySet()));
        assertEquals(6, batched.get("batched.exp_avg_sq_row").length);   // shape[:-1] = (2, 3)
        assertEquals(8, batched.get("batched.exp_avg_sq_col").length);   // shape[:-2] + shape[-1:] = (2, 4)
    }

    @Test
    void saveAndRestoreMidTrajectoryContinuesBitForBit() {
        TrajectoryFixture fixture = TrajectoryFixture.load("adafactor_general.json");
        int split = 4;
        Adafactor straight = fromFixture(fixture);
        List<float[]> straightValues = fixture.initialCopy();
        for (int s = 0; s < fixture.steps().size(); s++) {
            straight.step(straightValues, fixture.steps().get(s).grads(), fixture.schedule().rate(s));
        }
        Adafactor first = fromFixture(fixture);
        List<float[]> values = fixture.initialCopy();
        for (int s = 0; s < split; s++) first.step(values, fixture.steps().get(s).grads(), fixture.schedule().rate(s));

        Adafactor resumed = fromFixture(fixture);
        resumed.restore(first.steps(), first.state());
        for (int s = split; s < fixture.steps().size(); s++) {
            resumed.step(values, fixture.steps().get(s).grads(), fixture.schedule().rate(s));
        }
        for (int k = 0; k < values.size(); k++) assertArrayEquals(straightValues.get(k), values.get(k));
        Map<String, float[]> a = straight.state(), b = resumed.state();
        for (String key : a.keySet()) assertArrayEquals(a.get(key), b.get(key), key);
    }

    @Test
    void restoredStepCountDrivesBeta2() {
        // the same state and gradient give a different step at t=1 (β2 = 0) than at t=100 (β2 ≈ 0.97)
        Adafactor early = Adafactor.lesterPromptTuning(Parameter.of("p", 2));
        Adafactor late = Adafactor.lesterPromptTuning(Parameter.of("p", 2));
        Map<String, float[]> saved = Map.of("p.exp_avg_sq", new float[]{4f, 4f});
        early.restore(0, saved);
        late.restore(99, saved);
        float[] pe = new float[2], pl = new float[2];
        early.step(pe, new float[]{1f, 0f}, 0.3);
        late.step(pl, new float[]{1f, 0f}, 0.3);
        assertEquals(100, late.steps());
        // early: v = (1, 1e-30), update (1, 0); late: v ≈ (3.92, 3.90), update ≈ (0.50, 0), RMS 0.36 < 1: no clipping
        assertEquals(-0.3f, pe[0], 1e-6f);
        double beta2 = 1 - Math.pow(100, -0.8);
        double v = 4 * beta2 + (1 - beta2);
        assertEquals(-0.3 / Math.sqrt(v), pl[0], 1e-6);
    }

    @Test
    void badSettingsAreRejectedWithTheirName() {
        assertMessage(() -> new Adafactor.Settings(1e-30, 1e-3, 1.0, 0.8, OptionalDouble.empty(), 0, false),
                "decay rate 0.8 must be negative");
        assertMessage(() -> new Adafactor.Settings(1e-30, 1e-3, 0.0, -0.8, OptionalDouble.empty(), 0, false),
                "clip threshold 0.0");
        assertMessage(() -> new Adafactor.Settings(1e-30, 1e-3, 1.0, -0.8, OptionalDouble.of(1.0), 0, false),
                "beta1 1.0 must lie in [0, 1)");
        assertMessage(() -> new Adafactor.Settings(-1, 1e-3, 1.0, -0.8, OptionalDouble.empty(), 0, false), "eps1 -1.0");
        assertMessage(() -> new Adafactor.Settings(1e-30, 1e-3, 1.0, -0.8, OptionalDouble.empty(), -1e-5, false),
                "weight decay -1.0E-5");
        Adafactor adafactor = Adafactor.lesterPromptTuning(Parameter.of("prompt", 2, 2));
        assertMessage(() -> adafactor.step(new float[4], new float[3], 0.3), "its gradient 3");
        assertMessage(() -> adafactor.step(new float[4], new float[4], Double.POSITIVE_INFINITY), "learning rate Infinity");
    }
}
