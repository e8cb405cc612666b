package dev.promptgrad.encoder;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How token states become one sentence embedding: sentence-transformers' {@code Pooling} module (mean over the
 * text tokens weighted by the attention mask, the [CLS] row, or the mean times √count) and whether a
 * {@code Normalize} module follows (L2 normalisation). Soft-prompt rows are never pooled. Read from a
 * sentence-transformers folder's {@code modules.json} and {@code 1_Pooling/config.json}; not max pooling, not Dense.
 */
public record Pooling(Mode mode, boolean normalize) {

    public enum Mode {
        /** Σ mask·h / Σ mask over the text tokens ([CLS] and [SEP] included): {@code pooling_mode_mean_tokens}. */
        MEAN,
        /** The [CLS] row: {@code pooling_mode_cls_token}. */
        CLS,
        /** Σ mask·h / √(Σ mask): {@code pooling_mode_mean_sqrt_len_tokens}. */
        MEAN_SQRT_LEN
    }

    /** all-MiniLM-L6-v2's modules: mean pooling, then Normalize. */
    public static final Pooling MEAN_NORMALIZED = new Pooling(Mode.MEAN, true);

    /** A plain Hugging Face folder without modules.json: mean pooling, no normalisation. */
    public static final Pooling MEAN_ONLY = new Pooling(Mode.MEAN, false);

    private static final String TRANSFORMER = "sentence_transformers.models.Transformer";
    private static final String POOLING = "sentence_transformers.models.Pooling";
    private static final String NORMALIZE = "sentence_transformers.models.Normalize";

    /**
     * The pooling a model folder asks for: from {@code modules.json} when there is one, else {@link #MEAN_ONLY}.
     *
     * @param hiddenSize checked against the pooling config's {@code word_embedding_dimension}
     */
    public static Pooling read(Path folder, int hiddenSize) {
        Path modulesFile = folder.resolve("modules.json");
        if (!Files.isRegularFile(modulesFile)) return MEAN_ONLY;
        try {
            Object modules = Json.parseFile(modulesFile, JsonLimits.upTo(1 << 20));
            if (!(modules instanceof List<?> list)) {
                throw new EncoderFormatException(modulesFile + ": expected a JSON array of modules");
            }
            Mode mode = null;
            boolean normalize = false;
            for (int i = 0; i < list.size(); i++) {
                JsonObject module = JsonObject.of(list.get(i), modulesFile.toString(), "[" + i + "]");
                String type = module.requireString("type");
                switch (type) {
                    case TRANSFORMER -> { }
                    case POOLING -> mode = mode(inside(folder, modulesFile, module.requireString("path"))
                            .resolve("config.json"), hiddenSize);
                    case NORMALIZE -> normalize = true;
                    default -> throw new EncoderFormatException(modulesFile + ": module " + i + " is '" + type
                            + "'; promptgrad reproduces Transformer, Pooling and Normalize modules only");
                }
            }
            if (mode == null) throw new EncoderFormatException(modulesFile + ": there is no " + POOLING + " module");
            return new Pooling(mode, normalize);
        } catch (JsonException e) {
            throw new EncoderFormatException(e.getMessage(), e);
        }
    }

    /** A module's folder, which must be a relative path that stays inside the model folder. */
    private static Path inside(Path folder, Path modulesFile, String path) {
        Path relative;
        try {
            relative = Path.of(path);
        } catch (InvalidPathException e) {
            throw new EncoderFormatException(modulesFile + ": module path '" + path + "' is not a valid path", e);
        }
        boolean escapes = relative.isAbsolute() || relative.getRoot() != null || path.isEmpty();
        for (Path part : relative) escapes |= part.toString().equals("..");
        if (escapes) {
            throw new EncoderFormatException(modulesFile + ": module path '" + path + "' leaves the model folder;"
                    + " it must be a relative folder inside it, like 1_Pooling");
        }
        return folder.resolve(relative);
    }

    private static Mode mode(Path configFile, int hiddenSize) {
        if (!Files.isRegularFile(configFile)) {
            throw new EncoderFormatException(configFile + " does not exist; modules.json names it for the Pooling"
                    + " module");
        }
        JsonObject config = Json.parseObjectFile(configFile, JsonLimits.upTo(1 << 20));
        if (config.has("word_embedding_dimension") && config.requireInt("word_embedding_dimension") != hiddenSize) {
            throw new EncoderFormatException(configFile + ": word_embedding_dimension is "
                    + config.requireInt("word_embedding_dimension") + " but the model's hidden size is " + hiddenSize);
        }
        List<String> on = new ArrayList<>();
        for (String key : config.keys()) {
            if (key.startsWith("pooling_mode_") && config.requireBoolean(key)) on.add(key);
        }
        if (on.size() != 1) {
            throw new EncoderFormatException(configFile + ": " + on.size() + " pooling modes are on " + on
                    + "; promptgrad pools with exactly one");
        }
        return switch (on.get(0)) {
            case "pooling_mode_mean_tokens" -> Mode.MEAN;
            case "pooling_mode_cls_token" -> Mode.CLS;
            case "pooling_mode_mean_sqrt_len_tokens" -> Mode.MEAN_SQRT_LEN;
            default -> throw new EncoderFormatException(configFile + ": " + on.get(0)
                    + " is not supported (supported: pooling_mode_mean_tokens, pooling_mode_cls_token,"
                    + " pooling_mode_mean_sqrt_len_tokens)");
        };
    }
}
