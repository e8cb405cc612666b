package dev.promptgrad.encoder;

import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;

import java.nio.file.Path;

/**
 * The sizes of a BERT encoder, as Hugging Face's {@code config.json} for {@code model_type} "bert" gives them (or as
 * {@link OnnxBertGraph} reads them off an ONNX graph). Only what the forward pass needs; dropout and the other
 * training settings are ignored. Settings promptgrad does not implement (relative position embeddings, activations
 * other than GELU) are refused by name.
 *
 * @param maxPositions  {@code max_position_embeddings}: the bound on prompt rows plus tokens
 * @param typeVocabSize {@code type_vocab_size} (segment A/B embeddings)
 * @param activation    {@code hidden_act}: "gelu" is {@link UnaryOp#GELU_ERF}, "gelu_new" / "gelu_pytorch_tanh"
 *                      {@link UnaryOp#GELU_TANH}
 */
public record BertConfig(int vocabSize, int hiddenSize, int layers, int heads, int intermediateSize, int maxPositions,
                         int typeVocabSize, double layerNormEps, UnaryOp activation) {

    public BertConfig {
        if (vocabSize < 1 || hiddenSize < 1 || layers < 1 || heads < 1 || intermediateSize < 1 || maxPositions < 1
                || typeVocabSize < 1) {
            throw new IllegalArgumentException("BERT sizes must be positive: " + describe(vocabSize, hiddenSize, layers,
                    heads, intermediateSize, maxPositions, typeVocabSize));
        }
        if (hiddenSize % heads != 0) {
            throw new IllegalArgumentException("hidden size " + hiddenSize + " does not divide into " + heads
                    + " heads");
        }
        if (!(layerNormEps > 0) || activation == UnaryOp.SILU) {
            throw new IllegalArgumentException("BERT needs a positive layer_norm_eps (got " + layerNormEps
                    + ") and a GELU activation (got " + activation + ")");
        }
    }

    public int headSize() {
        return hiddenSize / heads;
    }

    /** Reads {@code config.json}; refuses other model types and settings promptgrad's BERT does not implement. */
    public static BertConfig read(Path configJson) {
        try {
            return from(Json.parseObjectFile(configJson, JsonLimits.upTo(16 << 20)));
        } catch (JsonException e) {
            throw new EncoderFormatException(e.getMessage(), e);
        }
    }

    static BertConfig from(JsonObject json) {
        String file = json.source();
        String type = json.stringOr("model_type", "bert");
        if (!type.equals("bert")) {
            throw new EncoderFormatException(file + ": model_type is '" + type + "'; promptgrad's encoder reads BERT"
                    + " only (RoBERTa-style models offset their positions differently)");
        }
        String positions = json.stringOr("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw new EncoderFormatException(file + ": position_embedding_type is '" + positions
                    + "'; promptgrad implements absolute position embeddings only");
        }
        String act = json.stringOr("hidden_act", "gelu");
        UnaryOp activation = switch (act) {
            case "gelu" -> UnaryOp.GELU_ERF;
            case "gelu_new", "gelu_pytorch_tanh" -> UnaryOp.GELU_TANH;
            default -> throw new EncoderFormatException(file + ": hidden_act is '" + act
                    + "'; promptgrad's BERT supports gelu (exact), gelu_new and gelu_pytorch_tanh");
        };
        try {
            return new BertConfig(json.requireInt("vocab_size"), json.requireInt("hidden_size"),
                    json.requireInt("num_hidden_layers"), json.requireInt("num_attention_heads"),
                    json.requireInt("intermediate_size"), json.intOr("max_position_embeddings", 512),
                    json.intOr("type_vocab_size", 2), json.doubleOr("layer_norm_eps", 1e-12), activation);
        } catch (IllegalArgumentException e) {
            throw new EncoderFormatException(file + ": " + e.getMessage(), e);
        }
    }

    private static String describe(int... sizes) {
        return "vocab " + sizes[0] + ", hidden " + sizes[1] + ", layers " + sizes[2] + ", heads " + sizes[3]
                + ", intermediate " + sizes[4] + ", positions " + sizes[5] + ", token types " + sizes[6];
    }
}
