package dev.promptgrad.prompt;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.SafetensorsException;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.TensorInfo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;

/**
 * A soft prompt read from a Hugging Face PEFT adapter folder: {@code adapter_config.json} (peft_type
 * {@code PROMPT_TUNING} or {@code P_TUNING}, {@code num_virtual_tokens}, {@code token_dim}; other keys are
 * ignored, as PEFT ignores keys it does not know) and {@code adapter_model.safetensors} holding
 * {@code prompt_embeddings} of shape (num_virtual_tokens, token_dim) in F32, F16 or BF16. For P_TUNING that
 * tensor is the prompt encoder's output, which is all a frozen model needs. Reading only: it checks the shape,
 * that every value is finite, and (with {@link #requireWidth}) that the width is the model's hidden size.
 *
 * @param folder     where it was read from
 * @param peftType   "PROMPT_TUNING" or "P_TUNING"
 * @param embeddings the prompt, (virtualTokens, width) row-major; row i is virtual token i
 */
public record PeftAdapter(Path folder, String peftType, int virtualTokens, int width, float[] embeddings) {

    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String TENSOR = "prompt_embeddings";
    private static final Set<String> PROMPT_TYPES = Set.of("PROMPT_TUNING", "P_TUNING");
    private static final JsonLimits CONFIG_LIMITS = JsonLimits.upTo(16L << 20);

    public PeftAdapter {
        if (embeddings.length != (long) virtualTokens * width) {
            throw new IllegalArgumentException("a prompt of " + virtualTokens + " × " + width + " needs "
                    + (long) virtualTokens * width + " values, got " + embeddings.length);
        }
        embeddings = embeddings.clone();
    }

    /**
     * Reads the adapter in {@code folder}.
     *
     * @throws AdapterFormatException naming the folder or file and the problem
     */
    public static PeftAdapter read(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new AdapterFormatException(folder + (Files.exists(folder) ? " is not a folder" : " does not exist")
                    + "; a PEFT adapter is a folder holding " + CONFIG_FILE + " and " + WEIGHTS_FILE);
        }
        Path configFile = folder.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(configFile)) {
            throw new AdapterFormatException(folder + " has no " + CONFIG_FILE + "; a PEFT adapter folder holds "
                    + CONFIG_FILE + " and " + WEIGHTS_FILE);
        }
        JsonObject config;
        String peftType;
        int virtualTokens;
        Integer configWidth = null;
        try {
            config = Json.parseObjectFile(configFile, CONFIG_LIMITS);
            peftType = config.requireString("peft_type");
            if (!PROMPT_TYPES.contains(peftType)) {
                throw new AdapterFormatException(configFile + ": peft_type is '" + peftType + "', which is not a soft"
                        + " prompt; promptgrad reads PROMPT_TUNING and P_TUNING adapters");
            }
            virtualTokens = config.requireInt("num_virtual_tokens");
            if (virtualTokens < 1) throw config.error("num_virtual_tokens", "must be at least 1, but is " + virtualTokens);
            if (config.has("token_dim")) configWidth = config.requireInt("token_dim");
            int submodules = config.intOr("num_transformer_submodules", 1);
            if (submodules != 1) {
                throw config.error("num_transformer_submodules", "is " + submodules + "; promptgrad's models are"
                        + " decoder-only (CAUSAL_LM), which have 1");
            }
        } catch (JsonException e) {
            throw new AdapterFormatException(e.getMessage(), e);
        }
        Path weightsFile = folder.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weightsFile)) {
            String pickle = Files.exists(folder.resolve("adapter_model.bin"))
                    ? " (adapter_model.bin, a PyTorch pickle, is not read: save the adapter with safe_serialization=True)" : "";
            throw new AdapterFormatException(folder + " has no " + WEIGHTS_FILE + pickle);
        }
        float[] embeddings;
        int width;
        try (SafetensorsFile weights = SafetensorsFile.open(weightsFile)) {
            if (!weights.contains(TENSOR)) {
                throw new AdapterFormatException(weightsFile + " has no tensor '" + TENSOR + "' (it has "
                        + weights.names() + ")");
            }
            TensorInfo info = weights.info(TENSOR);
            long[] shape = info.shape();
            if (shape.length != 2 || shape[0] != virtualTokens || shape[1] < 1 || shape[1] > Integer.MAX_VALUE) {
                throw new AdapterFormatException(weightsFile + ": '" + TENSOR + "' has shape " + Arrays.toString(shape)
                        + ", but " + CONFIG_FILE + " says num_virtual_tokens " + virtualTokens
                        + ", so it must be [" + virtualTokens + ", hidden]");
            }
            if (!info.dtype().readableAsFloat32()) {
                throw new AdapterFormatException(weightsFile + ": '" + TENSOR + "' is " + info.dtype()
                        + "; a prompt must be F32, F16 or BF16");
            }
            width = (int) shape[1];
            embeddings = weights.readFloats(TENSOR);
        } catch (SafetensorsException e) {
            throw new AdapterFormatException(e.getMessage(), e);
        }
        if (configWidth != null && configWidth != width) {
            throw new AdapterFormatException(weightsFile + ": '" + TENSOR + "' is " + width + " wide, but " + CONFIG_FILE
                    + " says token_dim " + configWidth);
        }
        for (int i = 0; i < embeddings.length; i++) {
            if (!Float.isFinite(embeddings[i])) {
                throw new AdapterFormatException(weightsFile + ": " + TENSOR + "[" + i / width + ", " + i % width + "] is "
                        + embeddings[i] + "; a prompt must be finite (was training diverging?)");
            }
        }
        return new PeftAdapter(folder, peftType, virtualTokens, width, embeddings);
    }

    /**
     * Checks that this prompt fits a model of hidden size {@code hidden}.
     *
     * @throws AdapterFormatException naming both widths
     */
    public PeftAdapter requireWidth(int hidden, String modelName) {
        if (width != hidden) {
            throw new AdapterFormatException("the adapter " + folder + " holds prompts " + width + " wide (token_dim), but "
                    + modelName + " has hidden size " + hidden + "; the adapter was made for another model");
        }
        return this;
    }

    @Override
    public float[] embeddings() {
        return embeddings.clone();
    }
}
