package dev.promptgrad.encoder;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.safetensors.SafetensorsException;
import dev.promptgrad.safetensors.TensorSource;
import dev.promptgrad.tensor.Weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Loads a Hugging Face BERT folder into a {@link BertModel}: {@code config.json}, the weights from
 * {@code model.safetensors} (or a sharded {@code model.safetensors.index.json}) under BertModel's names, with or
 * without the {@code bert.} prefix of task models, and sentence-transformers' pooling files when present. Tensors
 * the encoder does not use (pooler, heads, position_ids) are left unread. Not pytorch_model.bin.
 */
final class HuggingFaceBertFolder {

    private HuggingFaceBertFolder() {
    }

    /** @param pooling null to take the folder's (modules.json) or mean pooling without normalisation */
    static BertModel load(Path folder, Backend backend, Pooling pooling) {
        Path configFile = folder.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new EncoderFormatException(folder + " has no config.json; pass a Hugging Face BERT model folder");
        }
        BertConfig config = BertConfig.read(configFile);
        Pooling chosen = pooling != null ? pooling : Pooling.read(folder, config.hiddenSize());
        Path weightsFile = folder.resolve("model.safetensors");
        if (!Files.isRegularFile(weightsFile)) weightsFile = folder.resolve("model.safetensors.index.json");
        if (!Files.isRegularFile(weightsFile)) {
            throw new EncoderFormatException(folder + " has neither model.safetensors nor model.safetensors.index.json;"
                    + " promptgrad reads safetensors checkpoints (convert a pytorch_model.bin first)");
        }
        try (TensorSource source = TensorSource.open(weightsFile)) {
            String prefix = source.contains("embeddings.word_embeddings.weight") ? ""
                    : source.contains("bert.embeddings.word_embeddings.weight") ? "bert." : null;
            if (prefix == null) {
                throw new EncoderFormatException(weightsFile + " has no embeddings.word_embeddings.weight (nor"
                        + " bert.embeddings.word_embeddings.weight); is it a BERT checkpoint?");
            }
            Weights weights = new Weights(backend, folder.toString());
            try {
                for (Map.Entry<String, int[]> e : BertModel.expectedShapes(config).entrySet()) {
                    String stored = storedName(source, prefix + e.getKey());
                    int[] shape = source.info(stored).intShape();
                    if (!Arrays.equals(shape, e.getValue())) {
                        throw new EncoderFormatException(weightsFile + ": tensor '" + stored + "' is "
                                + Arrays.toString(shape) + " but config.json asks for "
                                + Arrays.toString(e.getValue()));
                    }
                    weights.put(e.getKey(), BertModel.requireFinite(source.readFloats(stored), weightsFile, stored),
                            shape);
                }
                return new BertModel(folder.toString(), config, chosen, weights);
            } catch (RuntimeException e) {
                weights.close();
                throw e;
            }
        } catch (SafetensorsException e) {
            throw new EncoderFormatException(e.getMessage(), e);
        }
    }

    /** The name as stored: older checkpoints call LayerNorm's weight and bias gamma and beta. */
    private static String storedName(TensorSource source, String name) {
        if (source.contains(name)) return name;
        String legacy = name.endsWith("LayerNorm.weight") ? name.replace("LayerNorm.weight", "LayerNorm.gamma")
                : name.endsWith("LayerNorm.bias") ? name.replace("LayerNorm.bias", "LayerNorm.beta") : null;
        if (legacy != null && source.contains(legacy)) return legacy;
        throw new EncoderFormatException(source + ": BERT weight '" + name + "' is missing");
    }
}
