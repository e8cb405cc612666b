package dev.promptgrad.model;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.TensorSource;
import dev.promptgrad.testing.Fixtures;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One PyTorch golden fixture folder written by tools/golden_fixtures.py (see tools/README.md): the batch and
 * settings from golden.json and the expected tensors from golden.safetensors, read once. Test code only.
 */
record GoldenFixture(String name, Path folder, JsonObject json, Map<String, float[]> tensors,
                     Map<String, long[]> shapes) {

    static final List<String> NAMES = List.of("gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3");

    static GoldenFixture load(String name) {
        Path folder = Fixtures.folder(name);
        JsonObject json = Json.parseObjectFile(folder.resolve("golden.json"), JsonLimits.upTo(1 << 20));
        Map<String, float[]> tensors = new HashMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        try (TensorSource source = TensorSource.open(folder.resolve("golden.safetensors"))) {
            for (String tensor : source.names()) {
                tensors.put(tensor, source.readFloats(tensor));
                shapes.put(tensor, source.info(tensor).shape());
            }
        }
        return new GoldenFixture(name, folder, json, tensors, shapes);
    }

    float[] tensor(String tensor) {
        float[] values = tensors.get(tensor);
        if (values == null) throw new IllegalStateException(name + ": golden.safetensors has no '" + tensor + "'");
        return values.clone();
    }

    int promptLength() {
        return json.requireInt("P");
    }

    /** A (3, T) or (3, P + T) integer matrix of golden.json, row-major. */
    int[] matrix(String key) {
        List<Object> rows = json.requireArray(key);
        int cols = ((List<?>) rows.get(0)).size();
        int[] flat = new int[rows.size() * cols];
        for (int r = 0; r < rows.size(); r++) {
            List<?> row = (List<?>) rows.get(r);
            for (int c = 0; c < cols; c++) flat[r * cols + c] = Math.toIntExact((Long) row.get(c));
        }
        return flat;
    }

    int batchSize() {
        return json.requireArray("input_ids").size();
    }

    TokenBatch batch() {
        int size = batchSize();
        int[] ids = matrix("input_ids");
        return new TokenBatch(size, ids.length / size, ids, matrix("attention_mask"), matrix("labels"));
    }

    /** Row slice {@code index} of a tensor whose first dimension is stacked (hidden_states, trajectory_prompts). */
    float[] slice(String tensor, int index) {
        float[] all = tensors.get(tensor);
        int rows = (int) shapes.get(tensor)[0];
        int width = all.length / rows;
        float[] out = new float[width];
        System.arraycopy(all, index * width, out, 0, width);
        return out;
    }

    @Override
    public String toString() {
        return name;
    }
}
