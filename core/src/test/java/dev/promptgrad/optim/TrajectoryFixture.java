package dev.promptgrad.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One optimizer trajectory written by tools/optimizer_fixtures.py with real torch: parameters and their
 * initial values, then per step the learning rate, the gradients and the parameters after the step, and the
 * optimizer state after the last step. {@link #replay} runs a promptgrad optimizer along it and compares.
 */
record TrajectoryFixture(String file, String torchVersion, Map<String, Object> settings,
                         LearningRateSchedule schedule, List<Parameter> parameters, List<float[]> initial,
                         List<Step> steps, Map<String, float[]> finalState) {

    record Step(double lr, List<float[]> grads, List<float[]> params) {
    }

    static TrajectoryFixture load(String file) {
        Map<String, Object> json = FixtureJson.load(file);
        Map<String, Object> scheduleJson = FixtureJson.object(json.get("schedule"));
        LearningRateSchedule schedule = LearningRateSchedule.parse((String) scheduleJson.get("kind"),
                FixtureJson.number(scheduleJson.get("lr")), (int) FixtureJson.number(scheduleJson.get("warmup")),
                (int) FixtureJson.number(scheduleJson.get("total")));
        List<Parameter> parameters = new ArrayList<>();
        List<float[]> initial = new ArrayList<>();
        for (Object p : FixtureJson.list(json.get("parameters"))) {
            Map<String, Object> pj = FixtureJson.object(p);
            parameters.add(new Parameter((String) pj.get("name"), FixtureJson.ints(pj.get("shape"))));
            initial.add(FixtureJson.floats(pj.get("initial")));
        }
        List<Step> steps = new ArrayList<>();
        for (Object s : FixtureJson.list(json.get("steps"))) {
            Map<String, Object> sj = FixtureJson.object(s);
            Map<String, Object> grads = FixtureJson.object(sj.get("grads"));
            Map<String, Object> params = FixtureJson.object(sj.get("params"));
            List<float[]> g = new ArrayList<>(), v = new ArrayList<>();
            for (Parameter p : parameters) {
                g.add(FixtureJson.floats(grads.get(p.name())));
                v.add(FixtureJson.floats(params.get(p.name())));
            }
            steps.add(new Step(FixtureJson.number(sj.get("lr")), g, v));
        }
        Map<String, float[]> finalState = new LinkedHashMap<>();
        FixtureJson.object(json.get("final_state")).forEach((k, v) -> finalState.put(k, FixtureJson.floats(v)));
        return new TrajectoryFixture(file, (String) json.get("torch"), FixtureJson.object(json.get("settings")),
                schedule, parameters, initial, steps, finalState);
    }

    double setting(String name) {
        return FixtureJson.number(settings.get(name));
    }

    /** Fresh copies of the initial parameter values. */
    List<float[]> initialCopy() {
        List<float[]> copy = new ArrayList<>();
        for (float[] v : initial) copy.add(v.clone());
        return copy;
    }

    /**
     * Runs {@code optimizer} along the trajectory with the fixture's schedule and checks, after every step,
     * the rate against torch's LambdaLR and each value with {@link #compare}; then the final state the same
     * way. Returns the largest relative difference seen (0 when every float matches torch's exactly).
     */
    double replay(Optimizer optimizer, double relTolerance) {
        List<float[]> values = initialCopy();
        double worst = 0;
        for (int s = 0; s < steps.size(); s++) {
            Step step = steps.get(s);
            double lr = schedule.rate(s);
            assertEquals(step.lr(), lr, 1e-12 * step.lr(), file + ": schedule rate at step " + s);
            optimizer.step(values, step.grads(), lr);
            for (int k = 0; k < parameters.size(); k++) {
                worst = Math.max(worst, compare(step.params().get(k), values.get(k), relTolerance,
                        file + " step " + s + " parameter " + parameters.get(k).name()));
            }
        }
        Map<String, float[]> state = optimizer.state();
        assertEquals(finalState.keySet(), state.keySet(), file + ": state keys (torch's slot names)");
        for (Map.Entry<String, float[]> e : finalState.entrySet()) {
            worst = Math.max(worst, compare(e.getValue(), state.get(e.getKey()), relTolerance,
                    file + " final state " + e.getKey()));
        }
        assertEquals(steps.size(), optimizer.steps(), file + ": step count");
        return worst;
    }

    /**
     * Checks {@code |actual − expected| ≤ relTolerance · max(|expected_i|, RMS(expected))}: relative to the
     * element, or to the tensor's scale where an element is a small difference of larger terms (a momentum
     * that changed sign), whose float32 rounding error follows the terms, not the result. Returns the largest
     * difference seen in those units.
     */
    static double compare(float[] expected, float[] actual, double relTolerance, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        double sumSq = 0;
        for (float e : expected) sumSq += (double) e * e;
        double rms = Math.sqrt(sumSq / Math.max(1, expected.length));
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs((double) actual[i] - expected[i]);
            double scale = Math.max(Math.abs(expected[i]), rms);
            if (!(diff <= relTolerance * scale)) {
                fail(what + "[" + i + "]: expected " + expected[i] + " but was " + actual[i] + " (difference " + diff
                        + ", " + diff / scale + " of max(|expected|, RMS " + rms + "))");
            }
            if (diff > 0) worst = Math.max(worst, diff / scale);
        }
        return worst;
    }
}
