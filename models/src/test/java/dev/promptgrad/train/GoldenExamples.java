package dev.promptgrad.train;

import dev.promptgrad.data.Example;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.testing.Fixtures;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The batch of a PyTorch golden fixture (tools/README.md) as training examples, each sequence without its pads
 * and with its labels as given, and the fixture's expected tensors. Test code only.
 */
final class GoldenExamples {

    private GoldenExamples() {
    }

    static List<Example> of(String fixture) {
        Path file = Fixtures.folder(fixture).resolve("golden.json");
        JsonObject golden = Json.parseObjectFile(file, JsonLimits.upTo(1 << 24));
        List<Object> ids = golden.requireArray("input_ids");
        List<Object> labels = golden.requireArray("labels");
        int[] lengths = golden.requireInts("lengths");
        List<Example> examples = new ArrayList<>();
        for (int b = 0; b < lengths.length; b++) {
            examples.add(new Example(prefix(ids.get(b), lengths[b]), prefix(labels.get(b), lengths[b])));
        }
        return examples;
    }

    static float[] tensor(String fixture, String name) {
        try (SafetensorsFile file = SafetensorsFile.open(Fixtures.folder(fixture).resolve("golden.safetensors"))) {
            return file.readFloats(name);
        }
    }

    static Path adapter(String fixture) {
        return Fixtures.folder(fixture).resolve("adapter");
    }

    private static int[] prefix(Object row, int length) {
        List<?> values = (List<?>) row;
        int[] out = new int[length];
        for (int i = 0; i < length; i++) out[i] = Math.toIntExact((Long) values.get(i));
        return out;
    }
}
