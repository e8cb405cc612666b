package dev.promptgrad.model;

import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sizes and settings of a GPT-2 (Hugging Face {@code GPT2LMHeadModel}), as its config.json gives them.
 * It checks that the numbers fit together and refuses the options this implementation does not compute;
 * it holds no weights.
 *
 * @param contextLength {@code n_positions}, the rows of the position embedding table
 * @param hidden        the MLP width, {@code n_inner} (4 · dim when null)
 * @param activation    {@code activation_function}: GELU_TANH for gelu_new
 * @param tiedHead      whether the LM head is the token embedding table ({@code tie_word_embeddings})
 */
public record Gpt2Config(int vocabSize, int contextLength, int dim, int layers, int heads, int hidden,
                         double layerNormEps, UnaryOp activation, boolean tiedHead) {

    public Gpt2Config {
        if (vocabSize < 1 || contextLength < 1 || dim < 1 || layers < 1 || heads < 1 || hidden < 1) {
            throw new IllegalArgumentException("gpt2: every size must be positive: vocab " + vocabSize
                    + ", positions " + contextLength + ", dim " + dim + ", layers " + layers + ", heads " + heads
                    + ", hidden " + hidden);
        }
        if ((long) 4 * dim > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("gpt2: n_embd " + dim + " is too large: 3 · n_embd (the fused q, k, v)"
                    + " and 4 · n_embd (the default MLP width) must fit in a tensor dimension");
        }
        if (dim % heads != 0) {
            throw new IllegalArgumentException("gpt2: n_embd " + dim + " is not divisible by n_head " + heads);
        }
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException("gpt2: layer_norm_epsilon must be positive, not " + layerNormEps);
        }
        if (activation == null) throw new IllegalArgumentException("gpt2: an activation is required");
    }

    public int headSize() {
        return dim / heads;
    }

    /** Reads a Hugging Face GPT-2 config.json; errors name the file and the key. */
    public static Gpt2Config fromHuggingFace(JsonObject json) {
        refuseIfTrue(json, "add_cross_attention");
        refuseIfTrue(json, "scale_attn_by_inverse_layer_idx");
        if (!json.booleanOr("scale_attn_weights", true)) {
            throw json.error("scale_attn_weights",
                    "is false; only GPT-2's scaled attention (1/√head size) is supported");
        }
        int dim = json.requireInt("n_embd");
        if (dim < 1 || dim > Integer.MAX_VALUE / 4) {
            throw json.error("n_embd", "is " + dim + "; it must be between 1 and " + Integer.MAX_VALUE / 4);
        }
        return new Gpt2Config(
                json.requireInt("vocab_size"),
                json.requireInt("n_positions"),
                dim,
                json.requireInt("n_layer"),
                json.requireInt("n_head"),
                json.intOr("n_inner", 4 * dim),
                json.doubleOr("layer_norm_epsilon", 1e-5),
                activation(json),
                json.booleanOr("tie_word_embeddings", true));
    }

    /**
     * The config.json a Hugging Face GPT2LMHeadModel with these settings would save: the keys
     * {@link #fromHuggingFace} reads, plus {@code architectures} and {@code model_type}. Values are Java
     * objects for dev.promptgrad.json.JsonWriter.
     */
    public Map<String, Object> toHuggingFace() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("activation_function", switch (activation) {
            case GELU_TANH -> "gelu_new";
            case GELU_ERF -> "gelu";
            case SILU -> "silu";
        });
        json.put("architectures", List.of("GPT2LMHeadModel"));
        json.put("layer_norm_epsilon", layerNormEps);
        json.put("model_type", "gpt2");
        json.put("n_embd", (long) dim);
        json.put("n_head", (long) heads);
        json.put("n_inner", (long) hidden);
        json.put("n_layer", (long) layers);
        json.put("n_positions", (long) contextLength);
        json.put("tie_word_embeddings", tiedHead);
        json.put("torch_dtype", "float32");
        json.put("vocab_size", (long) vocabSize);
        return json;
    }

    /** Hugging Face's ACT2FN names for the functions UnaryOp computes. */
    private static UnaryOp activation(JsonObject json) {
        String name = json.stringOr("activation_function", "gelu_new");
        return switch (name) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> UnaryOp.GELU_TANH;
            case "gelu" -> UnaryOp.GELU_ERF;
            case "silu", "swish" -> UnaryOp.SILU;
            default -> throw json.error("activation_function", "is \"" + name + "\"; supported: gelu_new,"
                    + " gelu_pytorch_tanh, gelu_fast, gelu, silu, swish");
        };
    }

    private static void refuseIfTrue(JsonObject json, String key) {
        if (json.booleanOr(key, false)) {
            throw json.error(key, "is true, which this GPT-2 implementation does not support");
        }
    }
}
