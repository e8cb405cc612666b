package dev.promptgrad.model;

import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import org.junit.jupiter.api.Test;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reading Hugging Face config.json files into {@link Gpt2Config} and {@link LlamaConfig}: defaults, the
 * Llama-family variants (mistral's sliding window, qwen2's biases) and every refusal with its message.
 */
class ModelConfigTest {

    private static final String LLAMA = "\"hidden_size\": 64, \"intermediate_size\": 172, \"num_hidden_layers\": 5,"
            + " \"num_attention_heads\": 8, \"vocab_size\": 512";

    @Test
    void llamaDefaults() {
        LlamaConfig c = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA + "}"));
        assertEquals(8, c.kvHeads());
        assertEquals(8, c.headSize());
        assertEquals(1e-6, c.rmsNormEps());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(2048, c.contextLength());
        assertEquals(RopeLayout.ROTATE_HALF, c.ropeLayout());
        assertFalse(c.tiedHead() || c.qkvBias() || c.outputBias() || c.mlpBias());
    }

    @Test
    void llamaBiasesFollowTheirFlags() {
        LlamaConfig c = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"attention_bias\": true, \"mlp_bias\": true, \"num_key_value_heads\": 2, \"head_dim\": 16}"));
        assertTrue(c.qkvBias() && c.outputBias() && c.mlpBias());
        assertEquals(2, c.kvHeads());
        assertEquals(16, c.headSize());
        assertEquals(32, c.kvWidth());
    }

    @Test
    void qwen2HasQkvBiasesOnly() {
        LlamaConfig c = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"qwen2\", " + LLAMA
                + ", \"use_sliding_window\": false, \"sliding_window\": 16, \"max_position_embeddings\": 256}"));
        assertTrue(c.qkvBias());
        assertFalse(c.outputBias() || c.mlpBias());
        assertEquals(256, c.contextLength(), "qwen2 ignores sliding_window unless use_sliding_window is true");
    }

    @Test
    void slidingWindowCapsTheContext() {
        LlamaConfig mistral = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"mistral\", " + LLAMA
                + ", \"sliding_window\": 128, \"max_position_embeddings\": 1024}"));
        assertEquals(128, mistral.contextLength());
        LlamaConfig noWindow = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"mistral\", " + LLAMA
                + ", \"sliding_window\": null, \"max_position_embeddings\": 1024}"));
        assertEquals(1024, noWindow.contextLength());
        LlamaConfig qwen = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"qwen2\", " + LLAMA
                + ", \"use_sliding_window\": true, \"sliding_window\": 100, \"max_position_embeddings\": 1024}"));
        assertEquals(100, qwen.contextLength());
    }

    @Test
    void ropeScalingOfLlama31AndLinearAreRead() {
        LlamaConfig llama31 = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"rope_theta\": 500000.0, \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0,"
                + " \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}}"));
        assertEquals(RopeScaling.llama3(32, 1, 4, 8192), llama31.ropeScaling());
        assertEquals(RopeFrequencies.llama3(500000, llama31.headSize(), 32, 1, 4, 8192), llama31.ropeFrequencies());
        assertEquals(llama31.ropeScaling().toHuggingFace(), llama31.toHuggingFace().get("rope_scaling"));
        LlamaConfig linear = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}"));
        assertEquals(RopeFrequencies.linear(10000, linear.headSize(), 2), linear.ropeFrequencies());
        LlamaConfig plain = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"rope_scaling\": {\"rope_type\": \"default\"}}"));
        assertEquals(null, plain.ropeScaling());
        assertEquals(RopeFrequencies.standard(10000, plain.headSize()), plain.ropeFrequencies());
    }

    /** transformers 5 writes theta and scaling together as rope_parameters, and no rope_theta or rope_scaling. */
    @Test
    void ropeParametersOfTransformers5AreRead() {
        LlamaConfig llama31 = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"rope_parameters\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0,"
                + " \"original_max_position_embeddings\": 8192, \"rope_theta\": 500000.0, \"rope_type\": \"llama3\"}}"));
        assertEquals(RopeScaling.llama3(32, 1, 4, 8192), llama31.ropeScaling());
        assertEquals(RopeFrequencies.llama3(500000, llama31.headSize(), 32, 1, 4, 8192), llama31.ropeFrequencies());
        LlamaConfig plain = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"default\"}}"));
        assertEquals(null, plain.ropeScaling());
        assertEquals(RopeFrequencies.standard(500000, plain.headSize()), plain.ropeFrequencies());
        LlamaConfig untyped = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"qwen2\", " + LLAMA
                + ", \"rope_parameters\": {\"rope_theta\": 1000000.0}}"));
        assertEquals(RopeFrequencies.standard(1000000, untyped.headSize()), untyped.ropeFrequencies());
        // rope_parameters wins over the older keys, as in transformers 5
        LlamaConfig both = LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                + ", \"rope_theta\": 10000.0, \"rope_scaling\": null,"
                + " \"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"linear\", \"factor\": 2.0}}"));
        assertEquals(RopeFrequencies.linear(500000, both.headSize(), 2), both.ropeFrequencies());
        JsonException yarn = assertThrows(JsonException.class, () -> LlamaConfig.fromHuggingFace(json(
                "{\"model_type\": \"llama\", " + LLAMA
                        + ", \"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"rope_theta\": 1e4}}")));
        assertMentions(yarn, "key 'rope_parameters' is of type yarn, which is not supported; only linear and llama3");
    }

    @Test
    void llamaRefusals() {
        JsonException yarn = assertThrows(JsonException.class, () -> LlamaConfig.fromHuggingFace(json(
                "{\"model_type\": \"llama\", " + LLAMA
                        + ", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}}")));
        assertMentions(yarn, "key 'rope_scaling' is of type yarn, which is not supported; only linear and llama3");
        JsonException incomplete = assertThrows(JsonException.class, () -> LlamaConfig.fromHuggingFace(json(
                "{\"model_type\": \"llama\", " + LLAMA
                        + ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}")));
        assertMentions(incomplete, "low_freq_factor");
        JsonException shrinking = assertThrows(JsonException.class, () -> LlamaConfig.fromHuggingFace(json(
                "{\"model_type\": \"llama\", " + LLAMA
                        + ", \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 0.5}}")));
        assertMentions(shrinking, "key 'rope_scaling' is not usable: a RoPE scaling factor must be finite and at"
                + " least 1, not 0.5");
        JsonException act = assertThrows(JsonException.class, () -> LlamaConfig.fromHuggingFace(json(
                "{\"model_type\": \"llama\", " + LLAMA + ", \"hidden_act\": \"gelu\"}")));
        assertMentions(act, "key 'hidden_act' is \"gelu\"; only silu");
        JsonException missing = assertThrows(JsonException.class, () -> LlamaConfig.fromHuggingFace(json(
                "{\"model_type\": \"llama\", \"hidden_size\": 64}")));
        assertMentions(missing, "config.json", "missing required key 'num_attention_heads'");
        IllegalArgumentException groups = assertThrows(IllegalArgumentException.class,
                () -> LlamaConfig.fromHuggingFace(json("{\"model_type\": \"llama\", " + LLAMA
                        + ", \"num_key_value_heads\": 3}")));
        assertMentions(groups, "8 attention heads cannot be shared by 3 key/value heads");
    }

    @Test
    void gpt2DefaultsAndActivations() {
        String sizes = "\"vocab_size\": 61, \"n_positions\": 32, \"n_embd\": 16, \"n_layer\": 2, \"n_head\": 4";
        Gpt2Config c = Gpt2Config.fromHuggingFace(json("{\"model_type\": \"gpt2\", " + sizes + ", \"n_inner\": null}"));
        assertEquals(64, c.hidden());
        assertEquals(1e-5, c.layerNormEps());
        assertEquals(UnaryOp.GELU_TANH, c.activation());
        assertTrue(c.tiedHead());
        assertEquals(4, c.headSize());
        Gpt2Config erf = Gpt2Config.fromHuggingFace(json("{" + sizes + ", \"activation_function\": \"gelu\"}"));
        assertEquals(UnaryOp.GELU_ERF, erf.activation());
        JsonException relu = assertThrows(JsonException.class, () -> Gpt2Config.fromHuggingFace(json(
                "{" + sizes + ", \"activation_function\": \"relu\"}")));
        assertMentions(relu, "key 'activation_function' is \"relu\"; supported:");
        JsonException scaled = assertThrows(JsonException.class, () -> Gpt2Config.fromHuggingFace(json(
                "{" + sizes + ", \"scale_attn_by_inverse_layer_idx\": true}")));
        assertMentions(scaled, "scale_attn_by_inverse_layer_idx");
        IllegalArgumentException heads = assertThrows(IllegalArgumentException.class,
                () -> Gpt2Config.fromHuggingFace(json("{\"vocab_size\": 61, \"n_positions\": 32, \"n_embd\": 18,"
                        + " \"n_layer\": 2, \"n_head\": 4}")));
        assertMentions(heads, "n_embd 18 is not divisible by n_head 4");
    }

    private static JsonObject json(String text) {
        return JsonObject.of(Json.parse(text, "config.json", JsonLimits.upTo(1 << 16)), "config.json");
    }
}
