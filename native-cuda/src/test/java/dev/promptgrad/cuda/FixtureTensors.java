package dev.promptgrad.cuda;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the F32 tensors of a small safetensors file (the committed golden fixtures) into host arrays: an 8-byte
 * little-endian header length, a JSON header of {dtype, shape, data_offsets} per name, then the data. Test code for
 * fixtures of a few hundred kilobytes; tensors of other dtypes (GPT-2's boolean attention masks) are skipped. The
 * library's safetensors reader is a separate piece of work.
 */
final class FixtureTensors {

    /** One tensor: its shape and row-major values. */
    record Entry(int[] shape, float[] values) {
    }

    private FixtureTensors() {
    }

    static Map<String, Entry> read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read fixture " + file, e);
        }
        ByteBuffer data = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = Math.toIntExact(data.getLong(0));
        byte[] header = new byte[headerLength];
        data.get(8, header);
        JsonObject entries = JsonObject.of(Json.parse(header, file + " header", JsonLimits.upTo(headerLength)), file.toString());
        Map<String, Entry> tensors = new LinkedHashMap<>();
        for (String name : entries.keys()) {
            if (name.equals("__metadata__")) continue;
            JsonObject entry = entries.requireObject(name);
            if (!entry.requireString("dtype").equals("F32")) continue;
            int[] shape = entry.requireInts("shape");
            long[] offsets = entry.requireLongs("data_offsets");
            float[] values = new float[(int) ((offsets[1] - offsets[0]) / Float.BYTES)];
            int start = 8 + headerLength + (int) offsets[0];
            for (int i = 0; i < values.length; i++) values[i] = data.getFloat(start + i * Float.BYTES);
            tensors.put(name, new Entry(shape, values));
        }
        return tensors;
    }

    /** The tensor called {@code name}, or an error naming the file. */
    static Entry require(Map<String, Entry> tensors, String name, Path file) {
        Entry e = tensors.get(name);
        if (e == null) throw new IllegalArgumentException(file + " has no F32 tensor '" + name + "'; it holds " + List.copyOf(tensors.keySet()));
        return e;
    }
}
