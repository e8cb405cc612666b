package dev.promptgrad.safetensors;

import dev.promptgrad.json.JsonWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two shards and a Hugging Face index written to a temporary folder, read back, and broken in each way. */
class ShardedSafetensorsTest {

    private static final String SHARD_1 = "model-00001-of-00002.safetensors";
    private static final String SHARD_2 = "model-00002-of-00002.safetensors";

    @TempDir
    Path dir;

    private final float[] wte = {1, 2, 3, 4, 5, 6};
    private final float[] ln = {0.5f, -0.5f};
    private final float[] head = {9, 8, 7, 6};

    private void writeShards() {
        new SafetensorsWriter().metadata("format", "pt").add("wte.weight", wte, 3, 2)
                .add("ln_f.weight", SafetensorsDType.BF16, ln, 2).write(dir.resolve(SHARD_1));
        new SafetensorsWriter().metadata("format", "pt").add("lm_head.weight", SafetensorsDType.F16, head, 2, 2)
                .add("unlisted", new float[] {0}, 1).write(dir.resolve(SHARD_2));
    }

    private Path writeIndex(Map<String, Object> weightMap) throws Exception {
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", 40));
        index.put("weight_map", weightMap);
        Path file = dir.resolve("model.safetensors.index.json");
        Files.writeString(file, JsonWriter.pretty().write(index));
        return file;
    }

    private static Map<String, Object> weightMap(String... tensorShardPairs) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < tensorShardPairs.length; i += 2) map.put(tensorShardPairs[i], tensorShardPairs[i + 1]);
        return map;
    }

    private Map<String, Object> goodWeightMap() {
        return weightMap("lm_head.weight", SHARD_2, "wte.weight", SHARD_1, "ln_f.weight", SHARD_1);
    }

    private static String openError(Path index) {
        return assertThrows(SafetensorsException.class, () -> ShardedSafetensors.open(index)).getMessage();
    }

    @Test
    void readsTensorsAcrossShards() throws Exception {
        writeShards();
        Path index = writeIndex(goodWeightMap());
        try (TensorSource source = TensorSource.open(index)) {
            ShardedSafetensors sharded = (ShardedSafetensors) source;
            assertEquals(List.of("lm_head.weight", "wte.weight", "ln_f.weight"), source.names(), "weight_map order");
            assertEquals(2, sharded.shards().size());
            assertEquals(dir.resolve(SHARD_2).toString(), sharded.shards().get(0).file(), "opened in order of first use");
            assertArrayEquals(wte, source.readFloats("wte.weight"));
            assertArrayEquals(ln, source.readFloats("ln_f.weight"));
            assertArrayEquals(head, source.readFloats("lm_head.weight"));
            assertEquals(SafetensorsDType.F16, source.info("lm_head.weight").dtype());
            assertEquals(dir.resolve(SHARD_2).toString(), source.info("lm_head.weight").file());
            assertEquals(Map.of("total_size", "40"), source.metadata());
            assertEquals(Map.of("format", "pt"), sharded.shards().get(1).metadata());
            assertFalse(source.contains("unlisted"), "only weight_map tensors are visible");
            assertEquals(index + ": no tensor named 'unlisted' in the weight_map (3 tensors)",
                    assertThrows(SafetensorsException.class, () -> source.readFloats("unlisted")).getMessage());
            float[] into = new float[8];
            source.readFloats("lm_head.weight", into, 4);
            assertArrayEquals(new float[] {0, 0, 0, 0, 9, 8, 7, 6}, into);
        }
    }

    @Test
    void shardNamesMustBePlainFileNames() throws Exception {
        writeShards();
        for (String bad : List.of("../" + SHARD_1, "..", "sub/" + SHARD_1, "sub\\" + SHARD_1, "/tmp/" + SHARD_1, "C:x", "")) {
            Path index = writeIndex(weightMap("wte.weight", bad));
            assertEquals(index + ": weight_map maps tensor 'wte.weight' to " + JsonWriter.compact().write(bad)
                    + ", which is not a plain file name in the index's folder (no '/', '\\', ':', '.' or '..')",
                    openError(index), bad);
        }
    }

    @Test
    void missingShardsAndTensors() throws Exception {
        writeShards();
        Path missingShard = writeIndex(weightMap("wte.weight", SHARD_1, "lm_head.weight", "model-00003-of-00003.safetensors"));
        assertEquals(missingShard + ": weight_map maps tensor 'lm_head.weight' to shard 'model-00003-of-00003.safetensors',"
                + " but " + dir.resolve("model-00003-of-00003.safetensors") + " does not exist", openError(missingShard));

        Path wrongShard = writeIndex(weightMap("wte.weight", SHARD_2));
        assertEquals(wrongShard + ": weight_map maps tensor 'wte.weight' to shard '" + SHARD_2 + "', which has no tensor"
                + " of that name", openError(wrongShard));
    }

    @Test
    void malformedIndexes() throws Exception {
        writeShards();
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"weight_map\": {\"wte.weight\": \"" + SHARD_1 + "\",}}");
        assertEquals(index + ":1:66: expected a string key after ',' but found '}' (trailing commas are not allowed)",
                openError(index));
        Files.writeString(index, "{\"metadata\": {}}");
        assertEquals(index + ": weight_map must be an object mapping tensor names to shard file names, but is missing",
                openError(index));
        Files.writeString(index, "{\"weight_map\": [\"" + SHARD_1 + "\"]}");
        assertEquals(index + ": weight_map must be an object mapping tensor names to shard file names, but is an array",
                openError(index));
        Files.writeString(index, "{\"weight_map\": {\"wte.weight\": 1}}");
        assertEquals(index + ": weight_map value for tensor 'wte.weight' must be a shard file name, but is a number 1",
                openError(index));
        Files.writeString(index, "[]");
        assertEquals(index + ": a shard index must be a JSON object with a weight_map, but this is an array",
                openError(index));
        Files.writeString(index, "{\"metadata\": 3, \"weight_map\": {}}");
        assertEquals(index + ": metadata must be an object, but is a number 3", openError(index));
        Path absent = dir.resolve("absent.index.json");
        assertTrue(openError(absent).startsWith(absent + ": cannot read the shard index: java.nio.file.NoSuchFileException"));
    }

    @Test
    void aBrokenShardIsReportedByItsOwnName() throws Exception {
        writeShards();
        Files.write(dir.resolve(SHARD_2), new byte[] {1, 2, 3});
        Path index = writeIndex(goodWeightMap());
        assertEquals(dir.resolve(SHARD_2) + ": file is 3 bytes, too short for the 8-byte header length; it is truncated"
                + " or not a safetensors file", openError(index));
    }
}
