package dev.promptgrad.optim;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Adam and AdamW against torch 1.13 trajectories, by hand, across save/restore, and on bad arguments. */
class AdamTest {

    private static Adam fromFixture(TrajectoryFixture fixture, Adam.WeightDecay decay) {
        return new Adam(fixture.parameters(), new Adam.Settings(fixture.setting("beta1"), fixture.setting("beta2"),
                fixture.setting("eps"), fixture.setting("weight_decay"), decay));
    }

    @Test
    void adamWFollowsTorchBitForBit() {
        TrajectoryFixture fixture = TrajectoryFixture.load("adamw.json");
        Adam adamW = fromFixture(fixture, Adam.WeightDecay.DECOUPLED);
        assertEquals("adamw", adamW.name());
        // 1e-6 relative is the contract; with torch's operation order and FMAs the match is exact
        double worst = fixture.replay(adamW, 1e-6);
        assertEquals(0.0, worst, "AdamW differs from torch " + fixture.torchVersion() + " in some float");
    }

    @Test
    void adamWithL2DecayFollowsTorchBitForBit() {
        TrajectoryFixture fixture = TrajectoryFixture.load("adam.json");
        Adam adam = fromFixture(fixture, Adam.WeightDecay.L2);
        assertEquals("adam", adam.name());
        double worst = fixture.replay(adam, 1e-6);
        assertEquals(0.0, worst, "Adam differs from torch " + fixture.torchVersion() + " in some float");
    }

    @Test
    void firstStepMovesEachParameterByLearningRateTimesSignOfGradient() {
        float[] p = {1f, -2f, 0.5f, 3f};
        float[] g = {0.3f, -4f, 1e-3f, -20f};
        Adam adam = new Adam(List.of(Parameter.of("prompt", 4)), Adam.Settings.ADAMW.withWeightDecay(0));
        adam.step(p, g, 0.1);
        // m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps) = lr·sign(g) up to eps/|g|
        float[] expected = {0.9f, -1.9f, 0.4f, 3.1f};
        assertArrayEquals(expected, p, 2e-6f);
        assertEquals(1, adam.steps());
    }

    @Test
    void decoupledDecayShrinksParametersBeforeTheAdamStep() {
        float[] p = {2f, -4f};
        float[] g = {1f, 1f};
        Adam adamW = new Adam(List.of(Parameter.of("prompt", 2)), Adam.Settings.ADAMW.withWeightDecay(0.5));
        adamW.step(p, g, 0.1);
        // p ← p·(1 − lr·wd) − lr·sign(g) = p·0.95 − 0.1
        assertArrayEquals(new float[]{1.8f, -3.9f}, p, 1e-6f);
    }

    @Test
    void l2DecayEntersTheMomentsInsteadOfTheParameter() {
        float[] p = {2f};
        float[] g = {-1f};
        Adam adam = new Adam(List.of(Parameter.of("prompt", 1)), Adam.Settings.ADAM.withWeightDecay(1.0));
        adam.step(p, g, 0.1);
        // g + wd·p = +1: the penalty flips the step's direction, and the parameter is not shrunk
        assertArrayEquals(new float[]{1.9f}, p, 1e-6f);
        assertArrayEquals(new float[]{0.1f}, adam.state().get("prompt.exp_avg"), 1e-7f);
    }

    @Test
    void zeroLearningRateStillUpdatesTheMomentsButNotTheParameters() {
        float[] p = {1f, 2f};
        Adam adamW = Adam.adamW(Parameter.of("prompt", 2));
        adamW.step(p, new float[]{1f, -2f}, 0.0);
        assertArrayEquals(new float[]{1f, 2f}, p);
        assertArrayEquals(new float[]{0.1f, -0.2f}, adamW.state().get("prompt.exp_avg"), 1e-7f);
        assertEquals(1, adamW.steps());
    }

    @Test
    void stepReadsButNeverChangesTheGradients() {
        float[] g = {0.5f, -0.25f, 3f};
        Adam adamW = Adam.adamW(Parameter.of("prompt", 3));
        adamW.step(new float[]{1f, 1f, 1f}, g, 0.01);
        assertArrayEquals(new float[]{0.5f, -0.25f, 3f}, g);
    }

    @Test
    void saveAndRestoreMidTrajectoryContinuesBitForBit() {
        TrajectoryFixture fixture = TrajectoryFixture.load("adamw.json");
        int half = fixture.steps().size() / 2;

        Adam straight = fromFixture(fixture, Adam.WeightDecay.DECOUPLED);
        List<float[]> straightValues = fixture.initialCopy();
        for (int s = 0; s < fixture.steps().size(); s++) {
            straight.step(straightValues, fixture.steps().get(s).grads(), fixture.schedule().rate(s));
        }

        Adam first = fromFixture(fixture, Adam.WeightDecay.DECOUPLED);
        List<float[]> values = fixture.initialCopy();
        for (int s = 0; s < half; s++) first.step(values, fixture.steps().get(s).grads(), fixture.schedule().rate(s));
        Map<String, float[]> saved = first.state();
        int savedSteps = first.steps();
        first.step(values.stream().map(float[]::clone).toList(), fixture.steps().get(half).grads(), 1.0);

        Adam resumed = fromFixture(fixture, Adam.WeightDecay.DECOUPLED);
        resumed.restore(savedSteps, saved);
        assertEquals(half, resumed.steps());
        for (int s = half; s < fixture.steps().size(); s++) {
            resumed.step(values, fixture.steps().get(s).grads(), fixture.schedule().rate(s));
        }
        for (int k = 0; k < values.size(); k++) assertArrayEquals(straightValues.get(k), values.get(k));
        Map<String, float[]> a = straight.state(), b = resumed.state();
        for (String key : a.keySet()) assertArrayEquals(a.get(key), b.get(key), key);
    }

    @Test
    void stateIsACopyKeyedByParameterAndTorchSlotName() {
        Adam adamW = new Adam(List.of(Parameter.of("prompt_embeddings", 2, 3), Parameter.of("bias", 3)),
                Adam.Settings.ADAMW);
        float[] p = new float[6], b = new float[3];
        adamW.step(List.of(p, b), List.of(new float[]{1, 2, 3, 4, 5, 6}, new float[]{1, 1, 1}), 0.01);
        Map<String, float[]> state = adamW.state();
        assertEquals(List.of("prompt_embeddings.exp_avg", "prompt_embeddings.exp_avg_sq", "bias.exp_avg", "bias.exp_avg_sq"),
                new ArrayList<>(state.keySet()));
        float before = state.get("bias.exp_avg")[0];
        state.get("bias.exp_avg")[0] = 99f;
        assertEquals(before, adamW.state().get("bias.exp_avg")[0]);
    }

    @Test
    void restoreRejectsStateThatDoesNotFit() {
        Adam adamW = Adam.adamW(Parameter.of("prompt", 4));
        Map<String, float[]> good = adamW.state();

        Map<String, float[]> missing = new LinkedHashMap<>(good);
        missing.remove("prompt.exp_avg_sq");
        assertMessage(() -> adamW.restore(3, missing), "'prompt.exp_avg_sq' is missing");

        Map<String, float[]> wrongLength = new LinkedHashMap<>(good);
        wrongLength.put("prompt.exp_avg", new float[5]);
        assertMessage(() -> adamW.restore(3, wrongLength), "'prompt.exp_avg' has 5 values, expected 4");

        Map<String, float[]> unknown = new LinkedHashMap<>(good);
        unknown.put("other.exp_avg", new float[4]);
        assertMessage(() -> adamW.restore(3, unknown), "unknown state keys [other.exp_avg]");

        assertMessage(() -> adamW.restore(-1, good), "step count -1 is negative");
        assertEquals(0, adamW.steps(), "a rejected restore changes nothing");
    }

    @Test
    void badSettingsAreRejectedWithTheirName() {
        assertMessage(() -> new Adam.Settings(1.0, 0.999, 1e-8, 0, Adam.WeightDecay.L2), "beta1 1.0 must lie in [0, 1)");
        assertMessage(() -> new Adam.Settings(0.9, -0.1, 1e-8, 0, Adam.WeightDecay.L2), "beta2 -0.1 must lie in [0, 1)");
        assertMessage(() -> new Adam.Settings(Double.NaN, 0.999, 1e-8, 0, Adam.WeightDecay.L2), "beta1 NaN");
        assertMessage(() -> new Adam.Settings(0.9, 0.999, -1e-8, 0, Adam.WeightDecay.L2), "eps -1.0E-8");
        assertMessage(() -> new Adam.Settings(0.9, 0.999, 1e-8, -0.01, Adam.WeightDecay.L2), "weight decay -0.01");
        assertMessage(() -> new Adam.Settings(0.9, 0.999, 1e-8, 0, null), "weight decay mode");
        assertMessage(() -> new Adam(List.of(), Adam.Settings.ADAMW), "at least one parameter");
        assertMessage(() -> new Adam(List.of(Parameter.of("p", 2), Parameter.of("p", 3)), Adam.Settings.ADAMW),
                "two parameters are named 'p'");
        assertMessage(() -> Parameter.of("p", 2, 0), "every dimension must be positive");
        assertMessage(() -> Parameter.of(" ", 2), "non-blank name");
    }

    @Test
    void badStepArgumentsAreRejectedBeforeAnythingChanges() {
        Adam adamW = Adam.adamW(Parameter.of("prompt", 3));
        float[] p = {1f, 2f, 3f};
        assertMessage(() -> adamW.step(p, new float[]{1f, 2f}, 0.1),
                "'prompt' prompt[3] has 3 elements but its values hold 3 and its gradient 2");
        assertMessage(() -> adamW.step(new float[4], new float[3], 0.1), "its values hold 4");
        assertMessage(() -> adamW.step(p, new float[3], -0.1), "learning rate -0.1 must be a finite number >= 0");
        assertMessage(() -> adamW.step(p, new float[3], Double.NaN), "learning rate NaN");
        assertMessage(() -> adamW.step(List.of(p), List.of(), 0.1), "got 1 value arrays and 0 gradients");
        assertArrayEquals(new float[]{1f, 2f, 3f}, p);
        assertEquals(0, adamW.steps());

        Adam two = Adam.adamW(Parameter.of("a", 1), Parameter.of("b", 1));
        assertMessage(() -> two.step(new float[1], new float[1], 0.1), "optimizes 2 parameters");
    }

    static void assertMessage(Runnable action, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, action::run);
        assertTrue(e.getMessage().contains(fragment), () -> "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }
}
