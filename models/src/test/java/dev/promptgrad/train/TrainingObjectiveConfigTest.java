package dev.promptgrad.train;

import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The objective in a training configuration: its defaults, its JSON echo (and a checkpoint written before objectives
 * existed reading as causal-lm), the settings a resumed run must keep, and refusals of settings that do not belong
 * to the objective.
 */
class TrainingObjectiveConfigTest {

    private static TrainingConfig classify(PromptPlacement placement, double temperature) {
        TrainingConfig.Objective objective = TrainingConfig.Objective.of(TrainingConfig.Objective.Kind.CLASSIFY,
                placement, temperature, "a sentence about {label}");
        return TrainingConfig.builder("minilm").objective(objective).build();
    }

    private static TrainingConfig roundTrip(Map<String, Object> json) {
        String text = JsonWriter.compact().write(json);
        return TrainingConfig.fromJson(JsonObject.of(Json.parse(text, "config", JsonLimits.upTo(1 << 20)), "config"));
    }

    @Test
    void defaultsAndJsonEcho() {
        assertEquals(TrainingConfig.Objective.CAUSAL_LM, TrainingConfig.builder("m").build().objective());
        TrainingConfig.Objective defaults = TrainingConfig.Objective.of(TrainingConfig.Objective.Kind.CONTRASTIVE, null,
                null, null);
        assertEquals(TrainingConfig.Objective.DEFAULT_PLACEMENT, defaults.placement());
        assertEquals(0.05, defaults.temperature());
        TrainingConfig config = classify(PromptPlacement.AFTER_CLS, 0.1);
        Map<String, Object> json = config.toJson();
        assertEquals("classify", json.get("objective"));
        assertEquals("after-cls", json.get("placement"));
        assertEquals(config, roundTrip(json));
        assertEquals("a sentence about sports", config.objective().labelText("sports"));

        Map<String, Object> old = TrainingConfig.builder("m").build().toJson();
        for (String key : List.of("objective", "placement", "temperature", "label_text")) old.remove(key);
        assertEquals(TrainingConfig.Objective.CAUSAL_LM, roundTrip(old).objective(), "older checkpoints are causal-lm");
    }

    @Test
    void aResumedRunKeepsTheObjectiveItsPlacementAndTemperature() {
        TrainingConfig saved = classify(PromptPlacement.BEFORE_CLS, 0.05);
        assertEquals(List.of(), saved.trajectoryDifferences(classify(PromptPlacement.BEFORE_CLS, 0.05)));
        assertEquals(List.of("--placement AFTER_CLS (checkpoint: BEFORE_CLS)", "--temperature 0.1 (checkpoint: 0.05)"),
                classify(PromptPlacement.AFTER_CLS, 0.1).trajectoryDifferences(saved));
        assertEquals("--objective causal-lm (checkpoint: classify)",
                TrainingConfig.builder("minilm").build().trajectoryDifferences(saved).get(0));
    }

    @Test
    void settingsThatDoNotBelongAreRefused() {
        assertMentions(assertThrows(IllegalArgumentException.class, () -> TrainingConfig.Objective.of(
                TrainingConfig.Objective.Kind.CAUSAL_LM, PromptPlacement.AFTER_CLS, null, null)), "--placement",
                "not causal-lm");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> TrainingConfig.Objective.of(
                TrainingConfig.Objective.Kind.CONTRASTIVE, null, null, "{label}")),
                "--label-text is for --objective classify");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> TrainingConfig.Objective.of(
                TrainingConfig.Objective.Kind.CLASSIFY, null, 0.0, null)), "--temperature 0.0");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> TrainingConfig.Objective.of(
                TrainingConfig.Objective.Kind.CLASSIFY, null, null, "sports")), "must contain {label}");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> TrainingConfig.Objective.Kind.parse("mlm")),
                "'mlm' is not one of causal-lm, classify, contrastive");
    }
}
