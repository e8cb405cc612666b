package dev.promptgrad.model;

import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sizes and settings of a Llama-family model: Hugging Face's {@code LlamaForCausalLM}, and the
 * {@code mistral} and {@code qwen2} configurations that need no other layer kind, plus llama2.c checkpoints
 * (whose RoPE pairs are interleaved). It checks that the numbers fit together and refuses what this
 * implementation does not compute (RoPE scaling other than linear and llama3, other activations); it holds no
 * weights.
 *
 * @param modelType     "llama", "mistral" or "qwen2"
 * @param contextLength {@code max_position_embeddings}, capped by a sliding window (see {@link #fromHuggingFace})
 * @param hidden        the MLP width, {@code intermediate_size}
 * @param headSize      {@code head_dim}, hidden_size / heads unless given
 * @param ropeLayout    ROTATE_HALF for Hugging Face weights, INTERLEAVED for llama2.c's
 * @param qkvBias       q_proj, k_proj and v_proj have biases (Llama's attention_bias, always for qwen2)
 * @param outputBias    o_proj has a bias (Llama's attention_bias)
 * @param mlpBias       gate, up and down projections have biases (Llama's mlp_bias)
 * @param ropeScaling   {@code rope_scaling} (Llama 3.1 and later), or null for plain RoPE
 */
public record LlamaConfig(String modelType, int vocabSize, int contextLength, int dim, int hidden, int layers,
                          int heads, int kvHeads, int headSize, double rmsNormEps, double ropeTheta,
                          RopeLayout ropeLayout, boolean tiedHead, boolean qkvBias, boolean outputBias,
                          boolean mlpBias, RopeScaling ropeScaling) {

    /** The Hugging Face model types this record describes. */
    public static final List<String> MODEL_TYPES = List.of("llama", "mistral", "qwen2");

    public LlamaConfig {
        if (!MODEL_TYPES.contains(modelType)) {
            throw new IllegalArgumentException("model type '" + modelType + "' is not a Llama-family type "
                    + MODEL_TYPES);
        }
        if (vocabSize < 1 || contextLength < 1 || dim < 1 || hidden < 1 || layers < 1 || heads < 1 || kvHeads < 1
                || headSize < 1) {
            throw new IllegalArgumentException(modelType + ": every size must be positive: vocab " + vocabSize
                    + ", context " + contextLength + ", dim " + dim + ", hidden " + hidden + ", layers " + layers
                    + ", heads " + heads + ", kv heads " + kvHeads + ", head size " + headSize);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(modelType + ": " + heads + " attention heads cannot be shared by "
                    + kvHeads + " key/value heads; heads must be a multiple of kv heads");
        }
        if ((long) heads * headSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(modelType + ": " + heads + " heads of size " + headSize
                    + " are wider than a tensor dimension can be (" + Integer.MAX_VALUE + ")");
        }
        if (headSize % 2 != 0) {
            throw new IllegalArgumentException(modelType + ": head size " + headSize + " must be even for RoPE");
        }
        if (!(rmsNormEps > 0)) {
            throw new IllegalArgumentException(modelType + ": rms_norm_eps must be positive, not " + rmsNormEps);
        }
        if (!(ropeTheta > 0) || Double.isInfinite(ropeTheta)) {
            throw new IllegalArgumentException(modelType + ": rope_theta must be a positive number, not " + ropeTheta);
        }
        if (ropeLayout == null) throw new IllegalArgumentException(modelType + ": a RoPE layout is required");
    }

    /** A model with plain RoPE (no rope_scaling). */
    public LlamaConfig(String modelType, int vocabSize, int contextLength, int dim, int hidden, int layers, int heads,
                       int kvHeads, int headSize, double rmsNormEps, double ropeTheta, RopeLayout ropeLayout,
                       boolean tiedHead, boolean qkvBias, boolean outputBias, boolean mlpBias) {
        this(modelType, vocabSize, contextLength, dim, hidden, layers, heads, kvHeads, headSize, rmsNormEps,
                ropeTheta, ropeLayout, tiedHead, qkvBias, outputBias, mlpBias, null);
    }

    /** The angular frequency of each rotated pair: rope_theta's, scaled by rope_scaling when there is one. */
    public RopeFrequencies ropeFrequencies() {
        return ropeScaling == null ? RopeFrequencies.standard(ropeTheta, headSize)
                : ropeScaling.frequencies(ropeTheta, headSize);
    }

    /** Width of one position's keys or values: kvHeads · headSize. */
    public int kvWidth() {
        return kvHeads * headSize;
    }

    /** The same model with its q and k rotated in another pair layout (after permuting wq and wk rows). */
    public LlamaConfig withRopeLayout(RopeLayout layout) {
        return new LlamaConfig(modelType, vocabSize, contextLength, dim, hidden, layers, heads, kvHeads, headSize,
                rmsNormEps, ropeTheta, layout, tiedHead, qkvBias, outputBias, mlpBias, ropeScaling);
    }

    /**
     * Reads a Hugging Face config.json of model_type llama, mistral or qwen2, with Hugging Face's defaults for
     * the keys it may omit. A sliding window (mistral; qwen2 with use_sliding_window) that is shorter than
     * max_position_embeddings caps the context length at the window: within it, sliding-window attention
     * is exactly full causal attention. Errors name the file and the key.
     */
    public static LlamaConfig fromHuggingFace(JsonObject json) {
        String type = json.requireString("model_type");
        if (!MODEL_TYPES.contains(type)) {
            throw json.error("model_type", "is \"" + type + "\", not one of " + MODEL_TYPES);
        }
        String act = json.stringOr("hidden_act", "silu");
        if (!act.equals("silu")) throw json.error("hidden_act", "is \"" + act + "\"; only silu (SwiGLU) is supported");
        RopeScaling scaling = RopeScaling.fromHuggingFace(json);
        int dim = json.requireInt("hidden_size");
        int heads = json.requireInt("num_attention_heads");
        if (heads < 1) throw json.error("num_attention_heads", "is " + heads + "; it must be at least 1");
        if (!json.has("head_dim") && dim % heads != 0) {
            throw json.error("hidden_size", dim + " is not divisible by num_attention_heads " + heads
                    + " and head_dim is not given");
        }
        int context = json.intOr("max_position_embeddings", defaultContext(type));
        boolean windowed = type.equals("mistral")
                || (type.equals("qwen2") && json.booleanOr("use_sliding_window", false));
        if (windowed && json.has("sliding_window")) context = Math.min(context, json.requireInt("sliding_window"));
        boolean attentionBias = json.booleanOr("attention_bias", false);
        boolean qwen = type.equals("qwen2");
        return new LlamaConfig(
                type,
                json.requireInt("vocab_size"),
                context,
                dim,
                json.requireInt("intermediate_size"),
                json.requireInt("num_hidden_layers"),
                heads,
                json.intOr("num_key_value_heads", heads),
                json.intOr("head_dim", dim / heads),
                json.doubleOr("rms_norm_eps", 1e-6),
                RopeScaling.theta(json, 10000.0),
                RopeLayout.ROTATE_HALF,
                json.booleanOr("tie_word_embeddings", false),
                qwen || attentionBias,
                !qwen && attentionBias,
                !qwen && json.booleanOr("mlp_bias", false),
                scaling);
    }

    /**
     * The config.json Hugging Face would save for this model: the keys {@link #fromHuggingFace} reads, plus
     * {@code architectures}. A sliding window is written as null, with the (capped) context length as
     * max_position_embeddings. Only the rotate-half layout has a Hugging Face form; values are Java objects
     * for dev.promptgrad.json.JsonWriter.
     *
     * @throws IllegalStateException for INTERLEAVED RoPE, or biases the model type cannot express
     */
    public Map<String, Object> toHuggingFace() {
        if (ropeLayout != RopeLayout.ROTATE_HALF) {
            throw new IllegalStateException(modelType + ": Hugging Face weights use rotate-half RoPE; convert the"
                    + " interleaved (llama2.c) weights first");
        }
        boolean qwen = modelType.equals("qwen2");
        boolean expressible = qwen ? qkvBias && !outputBias && !mlpBias
                : qkvBias == outputBias && (modelType.equals("llama") || (!qkvBias && !mlpBias));
        if (!expressible) {
            throw new IllegalStateException(modelType + " cannot express q/k/v bias " + qkvBias + ", o bias "
                    + outputBias + ", MLP bias " + mlpBias + " in its config.json");
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("architectures", List.of(switch (modelType) {
            case "mistral" -> "MistralForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            default -> "LlamaForCausalLM";
        }));
        if (modelType.equals("llama")) {
            json.put("attention_bias", qkvBias);
            json.put("mlp_bias", mlpBias);
        }
        json.put("head_dim", (long) headSize);
        json.put("hidden_act", "silu");
        json.put("hidden_size", (long) dim);
        json.put("intermediate_size", (long) hidden);
        json.put("max_position_embeddings", (long) contextLength);
        json.put("model_type", modelType);
        json.put("num_attention_heads", (long) heads);
        json.put("num_hidden_layers", (long) layers);
        json.put("num_key_value_heads", (long) kvHeads);
        json.put("rms_norm_eps", rmsNormEps);
        json.put("rope_scaling", ropeScaling == null ? null : ropeScaling.toHuggingFace());
        json.put("rope_theta", ropeTheta);
        if (!modelType.equals("llama")) json.put("sliding_window", null);
        json.put("tie_word_embeddings", tiedHead);
        json.put("torch_dtype", "float32");
        json.put("vocab_size", (long) vocabSize);
        return json;
    }

    /** Hugging Face's max_position_embeddings defaults per model type. */
    private static int defaultContext(String type) {
        return switch (type) {
            case "mistral" -> 4096 * 32;
            case "qwen2" -> 32768;
            default -> 2048;
        };
    }
}
