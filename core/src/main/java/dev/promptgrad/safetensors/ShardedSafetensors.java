package dev.promptgrad.safetensors;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonWriter;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint split over several safetensors files by a Hugging Face index ({@code model.safetensors.index.json}:
 * {@code {"metadata": {...}, "weight_map": {tensor: shardFileName}}}), read as one {@link TensorSource}.
 * Opening checks that every shard name is a plain file name in the index's folder (no '/', '\', ':' and not
 * "." or ".."), opens and validates each shard once, and checks that every tensor in the weight map is in the
 * shard it names. Tensors a shard holds but the weight map does not name are not visible, as in transformers.
 */
public final class ShardedSafetensors implements TensorSource {

    /** The largest index file accepted. Real ones are well under a megabyte. */
    public static final long MAX_INDEX_BYTES = 100_000_000L;

    private final String index;
    private final Map<String, SafetensorsFile> shardOf;  // weight_map order
    private final List<SafetensorsFile> shards;          // each once, in order of first use
    private final Map<String, String> metadata;

    private ShardedSafetensors(String index, Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards,
                               Map<String, String> metadata) {
        this.index = index;
        this.shardOf = shardOf;
        this.shards = shards;
        this.metadata = metadata;
    }

    /**
     * Opens an index and all the shards it names.
     *
     * @throws SafetensorsException naming the index (or shard) and the first problem found; shards opened
     *                              before the problem was found are closed again
     */
    public static ShardedSafetensors open(Path indexFile) {
        String index = indexFile.toString();
        Object parsed;
        try {
            parsed = Json.parseFile(indexFile, JsonLimits.upTo(MAX_INDEX_BYTES));
        } catch (JsonException e) {
            throw new SafetensorsException(e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new SafetensorsException(index + ": cannot read the shard index: " + e.getCause(), e);
        }
        if (!(parsed instanceof Map)) {
            throw new SafetensorsException(index + ": a shard index must be a JSON object with a weight_map, but this is "
                    + Json.describe(parsed));
        }
        Map<?, ?> root = (Map<?, ?>) parsed;
        Object weightMapValue = root.get("weight_map");
        if (!(weightMapValue instanceof Map)) {
            throw new SafetensorsException(index + ": weight_map must be an object mapping tensor names to shard file"
                    + " names, but " + (root.containsKey("weight_map") ? "is " + Json.describe(weightMapValue) : "is missing"));
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) weightMapValue).entrySet()) {
            String tensor = (String) entry.getKey();
            if (!(entry.getValue() instanceof String)) {
                throw new SafetensorsException(index + ": weight_map value for tensor '" + tensor
                        + "' must be a shard file name, but is " + Json.describe(entry.getValue()));
            }
            String shard = (String) entry.getValue();
            if (!isPlainFileName(shard)) {
                throw new SafetensorsException(index + ": weight_map maps tensor '" + tensor + "' to "
                        + JsonWriter.compact().write(shard) + ", which is not a plain file name in the index's folder"
                        + " (no '/', '\\', ':', '.' or '..')");
            }
            weightMap.put(tensor, shard);
        }
        Map<String, String> metadata = metadata(index, root.get("metadata"));

        Path folder = indexFile.getParent() == null ? Path.of("") : indexFile.getParent();
        Map<String, SafetensorsFile> opened = new LinkedHashMap<>();
        try {
            Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
            for (Map.Entry<String, String> entry : weightMap.entrySet()) {
                String tensor = entry.getKey();
                String shardName = entry.getValue();
                SafetensorsFile shard = opened.get(shardName);
                if (shard == null) {
                    Path shardPath = folder.resolve(shardName);
                    if (!Files.isRegularFile(shardPath)) {
                        throw new SafetensorsException(index + ": weight_map maps tensor '" + tensor + "' to shard '"
                                + shardName + "', but " + shardPath + " does not exist");
                    }
                    shard = SafetensorsFile.open(shardPath);
                    opened.put(shardName, shard);
                }
                if (!shard.contains(tensor)) {
                    throw new SafetensorsException(index + ": weight_map maps tensor '" + tensor + "' to shard '"
                            + shardName + "', which has no tensor of that name");
                }
                shardOf.put(tensor, shard);
            }
            return new ShardedSafetensors(index, Collections.unmodifiableMap(shardOf),
                    List.copyOf(opened.values()), metadata);
        } catch (RuntimeException e) {
            for (SafetensorsFile shard : opened.values()) {
                try {
                    shard.close();
                } catch (RuntimeException closing) {
                    e.addSuppressed(closing);
                }
            }
            throw e;
        }
    }

    /** The index file as given to {@link #open}. */
    public String index() {
        return index;
    }

    /** The shard files, each once, in the order the weight map first names them. */
    public List<SafetensorsFile> shards() {
        return shards;
    }

    @Override
    public List<String> names() {
        return List.copyOf(shardOf.keySet());
    }

    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public float[] readFloats(String name) {
        return shard(name).readFloats(name);
    }

    @Override
    public void readFloats(String name, float[] destination, int offset) {
        shard(name).readFloats(name, destination, offset);
    }

    @Override
    public long[] readLongs(String name) {
        return shard(name).readLongs(name);
    }

    /**
     * The index's {@code metadata} object, each value as a string: strings as they are, other values as their
     * compact JSON text (so {@code "total_size": 123} gives "123"). The shards' own {@code __metadata__} is
     * available from {@link #shards()}.
     */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public void close() {
        SafetensorsException failure = null;
        for (SafetensorsFile shard : shards) {
            try {
                shard.close();
            } catch (SafetensorsException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }
        if (failure != null) throw failure;
    }

    @Override
    public String toString() {
        return index + " (" + shardOf.size() + " tensors in " + shards.size() + " shards)";
    }

    private SafetensorsFile shard(String name) {
        SafetensorsFile shard = shardOf.get(name);
        if (shard == null) {
            throw new SafetensorsException(index + ": no tensor named '" + name + "' in the weight_map ("
                    + shardOf.size() + " tensors)");
        }
        return shard;
    }

    private static boolean isPlainFileName(String name) {
        if (name.isEmpty() || name.equals(".") || name.equals("..")) return false;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == '\\' || c == ':' || c == '\0') return false;
        }
        return true;
    }

    private static Map<String, String> metadata(String index, Object value) {
        if (value == null) return Map.of();
        if (!(value instanceof Map)) {
            throw new SafetensorsException(index + ": metadata must be an object, but is " + Json.describe(value));
        }
        Map<String, String> strings = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
            Object v = entry.getValue();
            strings.put((String) entry.getKey(), v instanceof String ? (String) v : JsonWriter.compact().write(v));
        }
        return Collections.unmodifiableMap(strings);
    }
}
