package dev.promptgrad.model;

import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face config.json's {@code rope_scaling} (transformers 4) or {@code rope_parameters} (transformers 5, which
 * also holds {@code rope_theta}): how a Llama-family model stretches RoPE beyond the context it was first trained for. Two types are computed, {@code linear} (position interpolation) and {@code llama3}
 * (Llama 3.1, 3.2 and 3.3); the others (dynamic, yarn, longrope) change attention or depend on the sequence length
 * and are refused by name. It reads and writes the JSON and makes the {@link RopeFrequencies}; it rotates nothing.
 *
 * @param type            "linear" or "llama3"
 * @param factor          how much longer the context is than the original (≥ 1)
 * @param lowFreqFactor   llama3 only (else 0): wavelengths above originalContext / lowFreqFactor are scaled fully
 * @param highFreqFactor  llama3 only (else 0): wavelengths below originalContext / highFreqFactor are kept
 * @param originalContext llama3 only (else 0): {@code original_max_position_embeddings}
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalContext) {

    /** The types this record computes. */
    public static final List<String> TYPES = List.of("linear", "llama3");

    public RopeScaling {
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("RoPE scaling type '" + type + "' is not one of " + TYPES);
        }
        // the frequencies check the numbers, so a bad scaling fails here rather than at the first forward
        frequencies(10000, 2, type, factor, lowFreqFactor, highFreqFactor, originalContext);
    }

    /** Position interpolation by {@code factor}. */
    public static RopeScaling linear(double factor) {
        return new RopeScaling("linear", factor, 0, 0, 0);
    }

    /** Llama 3.1's scaling. */
    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalContext) {
        return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalContext);
    }

    /** transformers 5's key for the RoPE settings, theta and scaling together; it wins over the older keys. */
    public static final String PARAMETERS = "rope_parameters";

    /**
     * The scaling a config.json describes, or null for plain RoPE: its {@code rope_parameters} object when present
     * (transformers 5), else its {@code rope_scaling} object; null when that is absent, null, or of type "default".
     * The type is read from {@code rope_type}, or the older {@code type} (rope_scaling only; rope_parameters without
     * a type is plain RoPE). Errors name the key.
     */
    public static RopeScaling fromHuggingFace(JsonObject config) {
        boolean parameters = config.has(PARAMETERS);
        String key = parameters ? PARAMETERS : "rope_scaling";
        if (!config.has(key)) return null;
        JsonObject scaling = config.requireObject(key);
        String typeKey = scaling.has("rope_type") || parameters ? "rope_type" : "type";
        if (!scaling.has(typeKey)) {
            if (parameters) return null;
            throw config.error(key, "has neither rope_type nor type");
        }
        String type = scaling.requireString(typeKey);
        if (type.equals("default")) return null;
        if (!TYPES.contains(type)) {
            throw config.error(key, "is of type " + type + ", which is not supported; only "
                    + String.join(" and ", TYPES) + " RoPE scaling is");
        }
        try {
            return type.equals("linear") ? linear(scaling.requireDouble("factor"))
                    : llama3(scaling.requireDouble("factor"), scaling.requireDouble("low_freq_factor"),
                            scaling.requireDouble("high_freq_factor"),
                            scaling.requireInt("original_max_position_embeddings"));
        } catch (IllegalArgumentException e) {
            throw config.error(key, "is not usable: " + e.getMessage());
        }
    }

    /**
     * RoPE's base θ: {@code rope_parameters.rope_theta} (transformers 5), else {@code rope_theta}, else
     * {@code fallback}, the model type's default.
     */
    public static double theta(JsonObject config, double fallback) {
        if (config.has(PARAMETERS)) {
            JsonObject parameters = config.requireObject(PARAMETERS);
            if (parameters.has("rope_theta")) return parameters.requireDouble("rope_theta");
        }
        return config.doubleOr("rope_theta", fallback);
    }

    /** The rope_scaling object Hugging Face writes for this scaling (values for dev.promptgrad.json.JsonWriter). */
    public Map<String, Object> toHuggingFace() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("factor", factor);
        if (type.equals("llama3")) {
            json.put("high_freq_factor", highFreqFactor);
            json.put("low_freq_factor", lowFreqFactor);
            json.put("original_max_position_embeddings", (long) originalContext);
        }
        json.put("rope_type", type);
        return json;
    }

    /** The frequencies of a head of {@code headSize} with base {@code theta}, scaled. */
    public RopeFrequencies frequencies(double theta, int headSize) {
        return frequencies(theta, headSize, type, factor, lowFreqFactor, highFreqFactor, originalContext);
    }

    private static RopeFrequencies frequencies(double theta, int headSize, String type, double factor, double low,
                                               double high, int originalContext) {
        return type.equals("linear") ? RopeFrequencies.linear(theta, headSize, factor)
                : RopeFrequencies.llama3(theta, headSize, factor, low, high, originalContext);
    }
}
