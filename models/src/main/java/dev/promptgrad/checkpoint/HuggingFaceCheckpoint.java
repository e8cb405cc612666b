package dev.promptgrad.checkpoint;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.Gpt2;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.Llama;
import dev.promptgrad.model.LlamaConfig;
import dev.promptgrad.model.WeightSpec;
import dev.promptgrad.model.WeightStorage;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.safetensors.TensorInfo;
import dev.promptgrad.safetensors.TensorSource;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Loads a Hugging Face model folder: {@code config.json} plus {@code model.safetensors} or a sharded
 * {@code model.safetensors.index.json}, F32/F16/BF16 tensors widened to float32. It knows each
 * architecture's tensor names (GPT-2's with or without the {@code transformer.} prefix), skips the buffers
 * Hugging Face saves beside the weights, and refuses anything missing, misshapen or unexpected with a message
 * naming the tensor and the file; {@link #save} writes such a folder. It reads no tokenizer and no PyTorch
 * .bin files.
 */
public final class HuggingFaceCheckpoint {

    /** The {@code model_type}s this reader loads. */
    public static final List<String> SUPPORTED_MODEL_TYPES = List.of("gpt2", "llama", "mistral", "qwen2");

    private static final long MAX_CONFIG_BYTES = 16L << 20;
    /** GPT-2's causal-mask buffers, saved by older transformers versions: h.N.attn.bias and h.N.attn.masked_bias. */
    private static final Pattern GPT2_BUFFER = Pattern.compile("(transformer\\.)?h\\.\\d+\\.attn\\.(bias|masked_bias)");
    /** Llama 2 era checkpoints' RoPE buffer. */
    private static final Pattern LLAMA_BUFFER =
            Pattern.compile("model\\.layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq");

    private HuggingFaceCheckpoint() {
    }

    /** Reads the folder's config.json, which must be a JSON object. */
    public static JsonObject readConfig(Path folder) {
        Path file = folder.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(folder + " has no config.json; a Hugging Face model folder needs"
                    + " config.json and model.safetensors (or model.safetensors.index.json)");
        }
        return Json.parseObjectFile(file, JsonLimits.upTo(MAX_CONFIG_BYTES));
    }

    /** The folder's weights: model.safetensors.index.json if present, else model.safetensors. */
    public static Path weightsFile(Path folder) {
        Path index = folder.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) return index;
        Path single = folder.resolve("model.safetensors");
        if (Files.isRegularFile(single)) return single;
        throw new CheckpointException(folder + " has neither model.safetensors nor model.safetensors.index.json;"
                + " only safetensors weights are read (convert PyTorch .bin weights with the safetensors tools first)");
    }

    /** Loads the model in {@code folder} onto {@code backend} in float32; the model is named after the folder. */
    public static LanguageModel load(Path folder, Backend backend) {
        return load(folder, backend, WeightStorage.F32);
    }

    /** Loads the model in {@code folder} onto {@code backend}, its weights stored as {@code storage} says. */
    public static LanguageModel load(Path folder, Backend backend, WeightStorage storage) {
        storage.requireSupportedBy(backend);
        JsonObject config = readConfig(folder);
        String type = config.requireString("model_type");
        String name = String.valueOf(folder.toAbsolutePath().normalize().getFileName());
        switch (type) {
            case "gpt2" -> {
                Gpt2Config c = sizes(config, () -> Gpt2Config.fromHuggingFace(config));
                Weights weights = loadWeights(folder, backend, name, config, Gpt2.weightSpecs(c), c.tiedHead(), true,
                        storage);
                return new Gpt2(name, c, weights);
            }
            case "llama", "mistral", "qwen2" -> {
                LlamaConfig c = sizes(config, () -> LlamaConfig.fromHuggingFace(config));
                Weights weights = loadWeights(folder, backend, name, config, Llama.weightSpecs(c), c.tiedHead(), false,
                        storage);
                return new Llama(name, c, weights);
            }
            default -> throw new CheckpointException(config.source() + ": model_type '" + type + "' is not supported;"
                    + " supported model types: " + String.join(", ", SUPPORTED_MODEL_TYPES));
        }
    }

    /** A configuration record built from config.json; sizes that do not fit together are errors naming the file. */
    private static <C> C sizes(JsonObject config, Supplier<C> build) {
        try {
            return build.get();
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(config.source() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code model} as a Hugging Face folder: config.json ({@code json.dumps(indent=2, sort_keys=True)})
     * and one F32 model.safetensors under the names {@code save_pretrained} uses (GPT-2's with the
     * {@code transformer.} prefix; a tied head is not stored). Each file is written to a temporary file and
     * renamed. The weights are downloaded and held in memory while the file is written. A llama2.c model must
     * be converted to rotate-half RoPE first ({@link Llama2cCheckpoint#toRotateHalf}).
     */
    public static void save(LanguageModel model, Path folder) {
        Map<String, Object> config;
        String prefix;
        if (model instanceof Gpt2 gpt2) {
            config = gpt2.config().toHuggingFace();
            prefix = "transformer.";
        } else if (model instanceof Llama llama) {
            try {
                config = llama.config().toHuggingFace();
            } catch (IllegalStateException e) {
                throw new CheckpointException(model.name() + " cannot be saved as a Hugging Face folder: "
                        + e.getMessage(), e);
            }
            prefix = "";
        } else {
            throw new CheckpointException(model.name() + " is a " + model.getClass().getSimpleName()
                    + "; only Gpt2 and Llama models can be saved as Hugging Face folders");
        }
        SafetensorsWriter tensors = new SafetensorsWriter().metadata("format", "pt");
        for (Map.Entry<String, Tensor> e : model.weights().all().entrySet()) {
            String name = e.getKey().equals("lm_head.weight") ? e.getKey() : prefix + e.getKey();
            tensors.add(name, model.backend().download(e.getValue()), e.getValue().shape());
        }
        byte[] json = (JsonWriter.pretty().sortKeys(true).write(config) + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the folder " + folder + ": " + e.getMessage(), e);
        }
        // the weights first: a folder whose config.json is missing is not mistaken for a complete model
        tensors.write(folder.resolve("model.safetensors"));
        try {
            AtomicFile.write(folder.resolve("config.json"), json);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + folder.resolve("config.json") + ": " + e.getMessage(), e);
        }
    }

    private static Weights loadWeights(Path folder, Backend backend, String name, JsonObject config,
                                       List<WeightSpec> specs, boolean tiedHead, boolean gpt2,
                                       WeightStorage storage) {
        Path file = weightsFile(folder);
        try (TensorSource source = TensorSource.open(file)) {
            UnaryOperator<String> fileName = gpt2 ? gpt2Names(source) : n -> n;
            Predicate<String> ignored = n -> (tiedHead && n.equals("lm_head.weight"))
                    || (gpt2 ? GPT2_BUFFER : LLAMA_BUFFER).matcher(n).matches();
            refuseUnexpected(source, specs, fileName, ignored, file, config);
            Weights weights = new Weights(backend, name);
            try {
                for (WeightSpec spec : specs) {
                    String stored = fileName.apply(spec.name());
                    if (!source.contains(stored)) {
                        throw new CheckpointException(file + ": tensor '" + stored + "' is missing; " + config.source()
                                + " needs it with shape " + Arrays.toString(spec.shape()));
                    }
                    TensorInfo info = source.info(stored);
                    if (!Arrays.equals(toLongs(spec.shape()), info.shape())) {
                        throw new CheckpointException(info.file() + ": tensor '" + stored + "' has shape "
                                + Arrays.toString(info.shape()) + " but " + config.source() + " needs "
                                + Arrays.toString(spec.shape()));
                    }
                    weights.put(spec.name(), storage.dtypeFor(spec.shape(), info.dtype(), backend),
                            FiniteWeights.require(source.readFloats(stored), info.file(), stored), spec.shape());
                }
            } catch (RuntimeException e) {
                weights.close();
                throw e;
            }
            return weights;
        }
    }

    /** GPT2LMHeadModel saves "transformer.h.0…", GPT2Model "h.0…"; lm_head.weight never has the prefix. */
    private static UnaryOperator<String> gpt2Names(TensorSource source) {
        boolean bare = source.contains("wte.weight") && !source.contains("transformer.wte.weight");
        String prefix = bare ? "" : "transformer.";
        return n -> n.equals("lm_head.weight") ? n : prefix + n;
    }

    private static void refuseUnexpected(TensorSource source, List<WeightSpec> specs, UnaryOperator<String> fileName,
                                         Predicate<String> ignored, Path file, JsonObject config) {
        Set<String> expected = new HashSet<>();
        for (WeightSpec spec : specs) expected.add(fileName.apply(spec.name()));
        List<String> unexpected = new ArrayList<>();
        for (String n : source.names()) if (!expected.contains(n) && !ignored.test(n)) unexpected.add(n);
        if (!unexpected.isEmpty()) {
            List<String> shown = unexpected.subList(0, Math.min(5, unexpected.size()));
            throw new CheckpointException(file + ": " + unexpected.size() + " tensor(s) that the configuration in "
                    + config.source() + " does not use, e.g. " + shown + "; does config.json describe these weights?");
        }
    }

    private static long[] toLongs(int[] shape) {
        long[] out = new long[shape.length];
        for (int i = 0; i < shape.length; i++) out[i] = shape[i];
        return out;
    }
}
