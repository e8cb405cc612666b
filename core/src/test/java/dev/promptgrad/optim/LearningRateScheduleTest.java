package dev.promptgrad.optim;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.promptgrad.optim.AdamTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** Schedules against torch's LambdaLR with HF's lambdas, by hand, parsing, and argument checks. */
class LearningRateScheduleTest {

    @Test
    void matchesLambdaLrWithHuggingFaceLambdas() {
        Map<String, Object> fixture = FixtureJson.load("lr_schedules.json");
        List<Object> schedules = FixtureJson.list(fixture.get("schedules"));
        assertEquals(6, schedules.size());
        for (Object s : schedules) {
            Map<String, Object> json = FixtureJson.object(s);
            LearningRateSchedule schedule = LearningRateSchedule.parse((String) json.get("kind"),
                    FixtureJson.number(json.get("lr")), (int) FixtureJson.number(json.get("warmup")),
                    (int) FixtureJson.number(json.get("total")));
            List<Object> rates = FixtureJson.list(json.get("rates"));
            for (int step = 0; step < rates.size(); step++) {
                double expected = FixtureJson.number(rates.get(step));
                assertEquals(expected, schedule.rate(step), 1e-12 * schedule.lr(), schedule + " at step " + step);
            }
        }
    }

    @Test
    void handValues() {
        LearningRateSchedule cosine = LearningRateSchedule.cosine(0.1, 2, 10);
        assertEquals(0.0, cosine.rate(0));
        assertEquals(0.05, cosine.rate(1), 1e-15);
        assertEquals(0.1, cosine.rate(2), 1e-15);
        assertEquals(0.05, cosine.rate(6), 1e-15);   // progress 1/2: half way down the half cosine
        assertEquals(0.0, cosine.rate(10), 1e-15);

        LearningRateSchedule linear = LearningRateSchedule.linear(0.01, 5, 15);
        assertEquals(0.004, linear.rate(2), 1e-15);
        assertEquals(0.01, linear.rate(5), 1e-15);
        assertEquals(0.005, linear.rate(10), 1e-15);
        assertEquals(0.0, linear.rate(15));
        assertEquals(0.0, linear.rate(40));

        LearningRateSchedule warmup = LearningRateSchedule.warmupConstant(0.3, 3);
        assertEquals(0.1, warmup.rate(1), 1e-15);
        assertEquals(0.3, warmup.rate(3));
        assertEquals(0.3, warmup.rate(1000));

        assertEquals(0.3, LearningRateSchedule.constant(0.3).rate(0));
        assertEquals(0.3, LearningRateSchedule.constant(0.3).rate(123456));
    }

    @Test
    void zeroWarmupStartsAtThePeak() {
        assertEquals(0.2, LearningRateSchedule.linear(0.2, 0, 4).rate(0));
        assertEquals(0.2, LearningRateSchedule.cosine(0.2, 0, 4).rate(0));
        assertEquals(0.2, LearningRateSchedule.warmupConstant(0.2, 0).rate(0));
    }

    @Test
    void parsesNamesAndHuggingFaceSpellings() {
        assertInstanceOf(LearningRateSchedule.Constant.class, LearningRateSchedule.parse("constant", 0.3, 0, 0));
        assertInstanceOf(LearningRateSchedule.WarmupConstant.class, LearningRateSchedule.parse("warmup-constant", 0.3, 5, 0));
        assertInstanceOf(LearningRateSchedule.WarmupConstant.class, LearningRateSchedule.parse("constant_with_warmup", 0.3, 5, 0));
        assertInstanceOf(LearningRateSchedule.Linear.class, LearningRateSchedule.parse(" Linear ", 0.3, 5, 50));
        assertInstanceOf(LearningRateSchedule.Cosine.class, LearningRateSchedule.parse("COSINE", 0.3, 5, 50));
        for (LearningRateSchedule s : List.of(LearningRateSchedule.constant(0.1), LearningRateSchedule.warmupConstant(0.1, 2),
                LearningRateSchedule.linear(0.1, 2, 9), LearningRateSchedule.cosine(0.1, 2, 9))) {
            LearningRateSchedule again = LearningRateSchedule.parse(s.name(), 0.1, s instanceof LearningRateSchedule.Constant ? 0 : 2, 9);
            assertEquals(s, again, "round trip of " + s.name());
        }
    }

    @Test
    void badArgumentsAreRejectedWithClearMessages() {
        assertMessage(() -> LearningRateSchedule.parse("cosine", 0.1, -1, 10), "warm-up of -1 steps is negative");
        assertMessage(() -> LearningRateSchedule.parse("linear", 0.1, 20, 10), "warm-up of 20 steps is longer than the 10 total steps");
        assertMessage(() -> LearningRateSchedule.parse("cosine", 0.1, 0, 0), "total steps 0 must be positive");
        assertMessage(() -> LearningRateSchedule.parse("constant", 0.0, 0, 0), "learning rate 0.0 must be a finite number > 0");
        assertMessage(() -> LearningRateSchedule.parse("constant", -0.3, 0, 0), "learning rate -0.3");
        assertMessage(() -> LearningRateSchedule.parse("constant", Double.NaN, 0, 0), "learning rate NaN");
        assertMessage(() -> LearningRateSchedule.parse("constant", 0.3, 10, 100), "use 'warmup-constant'");
        assertMessage(() -> LearningRateSchedule.parse("exponential", 0.3, 0, 100),
                "unknown learning-rate schedule 'exponential'; use one of constant, warmup-constant");
        assertMessage(() -> LearningRateSchedule.constant(0.3).rate(-1), "step -1 is negative");
        assertMessage(() -> new LearningRateSchedule.Cosine(0.3, 0, 10, 0.0), "cycles 0.0");
    }
}
