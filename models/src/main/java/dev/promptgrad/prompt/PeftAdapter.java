package dev.promptgrad.prompt;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.safetensors.SafetensorsException;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.safetensors.TensorInfo;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A soft prompt in a Hugging Face PEFT adapter folder: {@code adapter_config.json} (peft_type
 * {@code PROMPT_TUNING} or {@code P_TUNING}, {@code num_virtual_tokens}, {@code token_dim}; other keys are
 * ignored, as PEFT ignores keys it does not know) and {@code adapter_model.safetensors} holding
 * {@code prompt_embeddings} of shape (num_virtual_tokens, token_dim) in F32, F16 or BF16. For P_TUNING that
 * tensor is the prompt encoder's output, which is all a frozen model needs. {@link #read} checks the shape,
 * that every value is finite, and (with {@link #requireWidth}) that the width is the model's hidden size;
 * {@link #write} writes a PROMPT_TUNING folder byte for byte as PEFT's {@code save_pretrained} does.
 *
 * @param folder     where it was read from
 * @param peftType   "PROMPT_TUNING" or "P_TUNING"
 * @param embeddings the prompt, (virtualTokens, width) row-major; row i is virtual token i
 */
public record PeftAdapter(Path folder, String peftType, int virtualTokens, int width, float[] embeddings) {

    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    public static final String TENSOR = "prompt_embeddings";
    /** PEFT's task type of a decoder-only language model's adapter. */
    public static final String CAUSAL_LM = "CAUSAL_LM";
    /** PEFT's task type of an encoder's adapter that makes embeddings. */
    public static final String FEATURE_EXTRACTION = "FEATURE_EXTRACTION";
    private static final Set<String> PROMPT_TYPES = Set.of("PROMPT_TUNING", "P_TUNING");
    private static final JsonLimits CONFIG_LIMITS = JsonLimits.upTo(16L << 20);

    /**
     * The fields of PEFT's {@code PromptTuningConfig} that depend on the model and the run; the others are fixed
     * ({@code peft_type} PROMPT_TUNING, {@code inference_mode} true, {@code num_transformer_submodules} 1, nulls
     * for {@code auto_mapping}, {@code revision} and {@code tokenizer_kwargs}).
     *
     * @param baseModel  {@code base_model_name_or_path}: what PEFT loads the base model from
     * @param layers     {@code num_layers}: the model's transformer blocks
     * @param heads      {@code num_attention_heads}: the model's query heads
     * @param init       {@code prompt_tuning_init}: "RANDOM", "SAMPLE_VOCAB" or "TEXT"
     * @param initText   {@code prompt_tuning_init_text}: the text of a TEXT init, else null
     * @param tokenizer  {@code tokenizer_name_or_path}: required by PEFT for TEXT (its config check refuses a
     *                   TEXT config without one), else null
     * @param taskType   {@code task_type}: "CAUSAL_LM" for a decoder's prompt, "FEATURE_EXTRACTION" for an
     *                   encoder's (PEFT's PeftModelForFeatureExtraction, which also puts the prompt in front)
     */
    public record TuningConfig(String baseModel, int layers, int heads, String init, String initText,
                               String tokenizer, String taskType) {
        private static final Set<String> INITS = Set.of("RANDOM", "SAMPLE_VOCAB", "TEXT");
        private static final Set<String> TASK_TYPES = Set.of(CAUSAL_LM, FEATURE_EXTRACTION);

        /** A CAUSAL_LM adapter's config. */
        public TuningConfig(String baseModel, int layers, int heads, String init, String initText, String tokenizer) {
            this(baseModel, layers, heads, init, initText, tokenizer, CAUSAL_LM);
        }

        public TuningConfig {
            if (!TASK_TYPES.contains(taskType)) {
                throw new IllegalArgumentException("task_type '" + taskType + "' is not one of " + TASK_TYPES);
            }
            if (!INITS.contains(init)) {
                throw new IllegalArgumentException("prompt_tuning_init '" + init + "' is not one of PEFT's " + INITS);
            }
            if (init.equals("TEXT") && (initText == null || tokenizer == null || tokenizer.isEmpty())) {
                throw new IllegalArgumentException("a TEXT init needs its text and a tokenizer name: PEFT refuses a"
                        + " TEXT config without prompt_tuning_init_text or tokenizer_name_or_path");
            }
            if (layers < 1 || heads < 1) {
                throw new IllegalArgumentException("num_layers " + layers + " and num_attention_heads " + heads
                        + " must be at least 1");
            }
        }
    }

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
     * Writes {@code embeddings} (virtualTokens, width) as a PROMPT_TUNING adapter in {@code folder} (created
     * if missing): first {@link #WEIGHTS_FILE}, one F32 tensor {@link #TENSOR} with {@code __metadata__}
     * {@code {"format": "pt"}}, then {@link #CONFIG_FILE}, {@link #configJson}'s text. Each file is written
     * to a temporary file and renamed, so a reader sees the old file or the new one; the config comes last
     * so that a folder with a config always has its weights.
     *
     * @throws UncheckedIOException naming the file that could not be written
     */
    public static void write(Path folder, float[] embeddings, int virtualTokens, int width, TuningConfig config) {
        SafetensorsWriter weights = weights(folder, embeddings, virtualTokens, width);
        try {
            Files.createDirectories(folder);
            weights.write(folder.resolve(WEIGHTS_FILE));
            AtomicFile.write(folder.resolve(CONFIG_FILE),
                    configJson(virtualTokens, width, config).getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the adapter in " + folder + ": " + e.getMessage(), e);
        }
    }

    /**
     * The content of {@link #WEIGHTS_FILE} for {@code embeddings} (virtualTokens, width), for a caller that writes
     * it itself (a training checkpoint stages every file before replacing any).
     *
     * @param folder where it goes, for the message if a value is not finite
     * @throws IllegalArgumentException if the shape does not fit or a value is NaN or infinite
     */
    public static SafetensorsWriter weights(Path folder, float[] embeddings, int virtualTokens, int width) {
        if (virtualTokens < 1 || width < 1 || embeddings.length != (long) virtualTokens * width) {
            throw new IllegalArgumentException("a prompt of " + virtualTokens + " × " + width + " needs "
                    + (long) virtualTokens * width + " values, got " + embeddings.length);
        }
        for (int i = 0; i < embeddings.length; i++) {
            if (!Float.isFinite(embeddings[i])) {
                throw new IllegalArgumentException("cannot write " + folder + ": " + TENSOR + "[" + i / width + ", "
                        + i % width + "] is " + embeddings[i] + "; a prompt must be finite");
            }
        }
        // PEFT: safe_save_file(output_state_dict, ..., metadata={"format": "pt"})
        return new SafetensorsWriter().metadata("format", "pt").add(TENSOR, embeddings, virtualTokens, width);
    }

    /**
     * The text of {@link #CONFIG_FILE} for a PROMPT_TUNING adapter: every field of PEFT's
     * {@code PromptTuningConfig.to_dict()}, as {@code json.dumps(indent=2, sort_keys=True)} writes it (no
     * trailing newline, non-ASCII escaped).
     */
    public static String configJson(int virtualTokens, int width, TuningConfig config) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("auto_mapping", null);
        fields.put("base_model_name_or_path", config.baseModel());
        fields.put("inference_mode", true);
        fields.put("num_attention_heads", config.heads());
        fields.put("num_layers", config.layers());
        fields.put("num_transformer_submodules", 1);
        fields.put("num_virtual_tokens", virtualTokens);
        fields.put("peft_type", "PROMPT_TUNING");
        fields.put("prompt_tuning_init", config.init());
        fields.put("prompt_tuning_init_text", config.initText());
        fields.put("revision", null);
        fields.put("task_type", config.taskType());
        fields.put("token_dim", width);
        fields.put("tokenizer_kwargs", null);
        fields.put("tokenizer_name_or_path", config.tokenizer());
        return JsonWriter.pretty().sortKeys(true).write(fields);
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
