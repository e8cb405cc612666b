package dev.promptgrad.safetensors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writing and reading back files, their exact bytes, and every kind of malformed file with its message. */
class SafetensorsFileTest {

    @TempDir
    Path dir;

    private static float[] ramp(int n, float scale) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (i - n / 2f) * scale;
        return values;
    }

    @Test
    void roundTripsF32F16Bf16AndI64() {
        Path file = dir.resolve("model.safetensors");
        float[] weight = ramp(12, 0.37f);
        float[] half = {0f, -0f, 1f, -2.5f, 65504f, 1e-7f, 0.1f, Float.POSITIVE_INFINITY, Float.NaN, 70000f};
        float[] brain = {0.1f, -3.0e38f, 1e-40f, Float.NEGATIVE_INFINITY, 7f, 1f / 3};
        long[] ids = {50256, -1, Long.MAX_VALUE};
        new SafetensorsWriter()
                .metadata("format", "pt")
                .add("wte.weight", weight, 3, 4)
                .add("ln.f16", SafetensorsDType.F16, half, 2, 5)
                .add("ln.bf16", SafetensorsDType.BF16, brain, 6)
                .addLongs("input_ids", ids, 1, 3)
                .add("scalar", new float[] {42f})
                .add("empty", new float[0], 0, 3)
                .write(file);

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(List.of("wte.weight", "ln.f16", "ln.bf16", "input_ids", "scalar", "empty"), f.names());
            assertEquals(Map.of("format", "pt"), f.metadata());
            TensorInfo info = f.info("wte.weight");
            assertEquals(SafetensorsDType.F32, info.dtype());
            assertArrayEquals(new long[] {3, 4}, info.shape());
            assertArrayEquals(new int[] {3, 4}, info.intShape());
            assertEquals(0, info.begin());
            assertEquals(48, info.end());
            assertEquals("wte.weight F32 [3, 4]", info.toString());
            assertArrayEquals(weight, f.readFloats("wte.weight"));

            float[] halfBack = f.readFloats("ln.f16");
            for (int i = 0; i < half.length; i++) {
                assertEquals(HalfFloats.f16ToFloat(HalfFloats.floatToF16(half[i])), halfBack[i], "element " + i);
            }
            assertEquals(65504f, halfBack[4]);
            assertEquals(Float.POSITIVE_INFINITY, halfBack[9], "70000 overflows F16");
            assertTrue(Float.isNaN(halfBack[8]));
            assertEquals(0x1p-23f, halfBack[5], "1e-7 becomes the subnormal 2 × 2^-24");
            float[] brainBack = f.readFloats("ln.bf16");
            assertEquals(0.10009765625f, brainBack[0]);
            assertEquals(Float.NEGATIVE_INFINITY, brainBack[3]);
            assertEquals(0.333984375f, brainBack[5]);
            assertArrayEquals(ids, f.readLongs("input_ids"));
            assertArrayEquals(new float[] {42f}, f.readFloats("scalar"));
            assertEquals(0, f.info("scalar").rank());
            assertEquals(1, f.info("scalar").numel());
            assertArrayEquals(new float[0], f.readFloats("empty"));

            float[] into = new float[15];
            f.readFloats("wte.weight", into, 2);
            assertEquals(weight[0], into[2]);
            assertEquals(weight[11], into[13]);
            assertEquals(0f, into[14]);
            IllegalArgumentException tooSmall = assertThrows(IllegalArgumentException.class,
                    () -> f.readFloats("wte.weight", into, 4));
            assertEquals(file + ": tensor 'wte.weight' has 12 elements, which do not fit in an array of 15 at offset 4",
                    tooSmall.getMessage());
        }
    }

    @Test
    void exactBytesOfAPeftPromptFile() throws Exception {
        Path file = dir.resolve("adapter_model.safetensors");
        new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", new float[] {0, 1, 2, 3, 4, 5}, 2, 3)
                .write(file);
        String header = "{\"__metadata__\":{\"format\":\"pt\"},\"prompt_embeddings\":"
                + "{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
        assertEquals(104, header.length(), "already a multiple of 8: no padding");
        ByteBuffer expected = ByteBuffer.allocate(8 + 104 + 24).order(ByteOrder.LITTLE_ENDIAN);
        expected.putLong(104).put(header.getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 6; i++) expected.putFloat(i);
        assertArrayEquals(expected.array(), Files.readAllBytes(file));
        assertEquals(136, Files.size(file));
    }

    @Test
    void exactBytesWithHeaderPadding() throws Exception {
        Path file = dir.resolve("w.safetensors");
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt")
                .add("w", SafetensorsDType.BF16, new float[] {1, -2, 0.5f}, 3);
        writer.write(file);
        String header = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}";
        assertEquals(86, header.length());
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(8 + 88 + 6, bytes.length);
        assertEquals(writer.fileSize(), bytes.length);
        assertEquals(88, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
        assertEquals(header + "  ", new String(bytes, 8, 88, StandardCharsets.US_ASCII), "two spaces pad to 88");
        assertArrayEquals(new byte[] {(byte) 0x80, 0x3F, 0x00, (byte) 0xC0, 0x00, 0x3F},
                Arrays.copyOfRange(bytes, 96, 102), "1, -2, 0.5 in little-endian BF16");
    }

    @Test
    void readsAcrossMappingWindows() {
        Path file = dir.resolve("windows.safetensors");
        float[] values = ramp(37, 0.5f);
        long[] longs = {1, 2, 3, 4, 5};
        new SafetensorsWriter().add("a", values, 37).add("h", SafetensorsDType.F16, values, 37)
                .addLongs("l", longs, 5).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file, 16)) {
            assertArrayEquals(values, f.readFloats("a"));
            assertArrayEquals(values, f.readFloats("h"), "halves of k/2 are exact");
            assertArrayEquals(longs, f.readLongs("l"));
        }
    }

    @Test
    void readsTensorsBeyondTwoGibibytesInASparseFile() throws Exception {
        Path file = dir.resolve("big.safetensors");
        long big = 2_200_000_000L;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 8) + "]}}";
        byte[] headerBytes = header.getBytes(StandardCharsets.US_ASCII);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            ByteBuffer start = ByteBuffer.allocate(8 + headerBytes.length).order(ByteOrder.LITTLE_ENDIAN);
            start.putLong(headerBytes.length).put(headerBytes);
            raf.write(start.array());
            raf.seek(8 + headerBytes.length + big);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array());
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new float[] {1.5f, -2f}, f.readFloats("tail"));
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> f.readLongs("big"));
            assertEquals(file + ": tensor 'big' has 2200000000 elements, more than a Java array holds (2147483639)",
                    e.getMessage());
            SafetensorsException dims = assertThrows(SafetensorsException.class, () -> f.info("big").intShape());
            assertEquals(file + ": tensor 'big' dimension 0 is 2200000000, more than a tensor dimension can hold"
                    + " (2147483647)", dims.getMessage());
        }
    }

    @Test
    void readErrorsNameTheTensor() throws Exception {
        Path file = dir.resolve("m.safetensors");
        new SafetensorsWriter().addLongs("ids", new long[] {1}, 1).add("w", new float[] {1}, 1).write(file);
        SafetensorsFile f = SafetensorsFile.open(file);
        assertEquals(file + ": tensor 'ids' is I64; only F32, F16 and BF16 tensors can be read as float32",
                assertThrows(SafetensorsException.class, () -> f.readFloats("ids")).getMessage());
        assertEquals(file + ": tensor 'w' is F32; only integer and BOOL tensors can be read as longs",
                assertThrows(SafetensorsException.class, () -> f.readLongs("w")).getMessage());
        assertEquals(file + ": no tensor named 'wte'; it has 2 tensors: ids, w",
                assertThrows(SafetensorsException.class, () -> f.readFloats("wte")).getMessage());
        assertFalse(f.contains("wte"));

        long size = Files.size(file);
        Files.write(file, new byte[] {0}, StandardOpenOption.APPEND);
        assertEquals(file + ": the file changed size since it was opened (" + size + " bytes, now " + (size + 1)
                + "); open it again", assertThrows(SafetensorsException.class, () -> f.readFloats("w")).getMessage());

        f.close();
        assertEquals(file + ": the file is closed",
                assertThrows(IllegalStateException.class, () -> f.readFloats("w")).getMessage());
    }

    @Test
    void readsEveryIntegerTypeAsLongs() throws Exception {
        String header = "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[0,2]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
                + "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[3,4]},"
                + "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[4,6]},"
                + "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[6,8]},"
                + "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                + "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]},"
                + "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[16,24]}}";
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        data.put((byte) 0).put((byte) 7).put((byte) 0xFF).put((byte) 0xFF).putShort((short) 0xFFFF)
                .putShort((short) -2).putInt(-1).putInt(-3).putLong(-1);
        Path file = craft("ints.safetensors", header, data.array());
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertArrayEquals(new long[] {0, 1}, f.readLongs("b"));
            assertArrayEquals(new long[] {255}, f.readLongs("u8"));
            assertArrayEquals(new long[] {-1}, f.readLongs("i8"));
            assertArrayEquals(new long[] {65535}, f.readLongs("u16"));
            assertArrayEquals(new long[] {-2}, f.readLongs("i16"));
            assertArrayEquals(new long[] {4294967295L}, f.readLongs("u32"));
            assertArrayEquals(new long[] {-3}, f.readLongs("i32"));
            assertEquals(file + ": tensor 'u64' holds the U64 value 18446744073709551615, which is more than a long holds",
                    assertThrows(SafetensorsException.class, () -> f.readLongs("u64")).getMessage());
        }
    }

    // ---- malformed files ----

    /** A file with the given header text (length computed) and data bytes. */
    private Path craft(String name, String header, byte[] data) throws Exception {
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        return raw(name, headerBytes.length, headerBytes, data);
    }

    private Path craft(String name, String header, int dataBytes) throws Exception {
        return craft(name, header, new byte[dataBytes]);
    }

    /** A file whose 8-byte length field says {@code declaredLength}, whatever follows. */
    private Path raw(String name, long declaredLength, byte[] header, byte[] data) throws Exception {
        ByteBuffer bytes = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.putLong(declaredLength).put(header).put(data);
        Path file = dir.resolve(name);
        Files.write(file, bytes.array());
        return file;
    }

    private static String openError(Path file) {
        return assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(file)).getMessage();
    }

    private static String tensor(String name, String dtype, String shape, String offsets) {
        return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
    }

    @Test
    void truncatedFiles() throws Exception {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3, 4, 5});
        assertEquals(tiny + ": file is 5 bytes, too short for the 8-byte header length; it is truncated or not a"
                + " safetensors file", openError(tiny));

        Path cut = raw("cut.safetensors", 100, "{}".getBytes(StandardCharsets.US_ASCII), new byte[8]);
        assertEquals(cut + ": header length 100 runs past the end of the 18-byte file; it is truncated or not a"
                + " safetensors file", openError(cut));

        Path huge = raw("huge.safetensors", -1, new byte[0], new byte[0]);
        assertEquals(huge + ": header length 18446744073709551615 is more than the limit of 100000000 bytes; the file"
                + " is corrupt or not a safetensors file", openError(huge));

        Path shortData = craft("short.safetensors", "{" + tensor("w", "\"F32\"", "[4]", "[0,16]") + "}", 8);
        assertEquals(shortData + ": tensor 'w' data_offsets [0, 16] run past the end of the 8-byte data region;"
                + " the file is truncated", openError(shortData));

        Path missing = dir.resolve("missing.safetensors");
        assertEquals(missing + ": no such file", openError(missing));
    }

    @Test
    void headersThatAreNotJsonObjects() throws Exception {
        Path notJson = craft("a.safetensors", "{w: 1}", 0);
        assertEquals(notJson + ": header is not valid JSON at 1:2: expected a string key but found 'w'", openError(notJson));
        Path array = craft("b.safetensors", "[1, 2]  ", 0);
        assertEquals(array + ": header is an array, not a JSON object", openError(array));
        Path duplicate = craft("c.safetensors", "{" + tensor("w", "\"F32\"", "[1]", "[0,4]") + ","
                + tensor("w", "\"F32\"", "[1]", "[4,8]") + "}", 8);
        assertEquals(duplicate + ": header is not valid JSON at 1:55: duplicate key \"w\" in object", openError(duplicate));
        Path badUtf8 = raw("d.safetensors", 6, new byte[] {'{', '"', (byte) 0xC3, '"', ':', '}'}, new byte[0]);
        assertEquals(badUtf8 + ": header is not valid JSON at 1:3: invalid UTF-8 sequence at byte offset 2: 0x22 cannot"
                + " follow 0xC3 (overlong, surrogate, out of range or truncated)", openError(badUtf8));
        Path entryNotObject = craft("e.safetensors", "{\"w\": [0, 4]}", 0);
        assertEquals(entryNotObject + ": tensor 'w' must be an object with dtype, shape and data_offsets, but is an"
                + " array", openError(entryNotObject));
        Path noDtype = craft("f.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        assertEquals(noDtype + ": tensor 'w' has no dtype", openError(noDtype));
    }

    @Test
    void badDtypesAndShapes() throws Exception {
        Path unknown = craft("a.safetensors", "{" + tensor("w", "\"F128\"", "[1]", "[0,16]") + "}", 16);
        assertEquals(unknown + ": tensor 'w' has unknown dtype \"F128\"; known: BOOL, F4, F6_E2M3, F6_E3M2, U8, I8,"
                + " F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64", openError(unknown));
        Path lower = craft("b.safetensors", "{" + tensor("w", "\"f32\"", "[1]", "[0,4]") + "}", 4);
        assertTrue(openError(lower).startsWith(lower + ": tensor 'w' has unknown dtype \"f32\"; known: BOOL"));

        Path negative = craft("c.safetensors", "{" + tensor("w", "\"F32\"", "[2, -1]", "[0,4]") + "}", 4);
        assertEquals(negative + ": tensor 'w' shape [2, -1]: dimension 1 is -1, not a non-negative integer",
                openError(negative));
        Path fraction = craft("d.safetensors", "{" + tensor("w", "\"F32\"", "[2.5]", "[0,4]") + "}", 4);
        assertEquals(fraction + ": tensor 'w' shape [2.5]: dimension 0 is 2.5, not a non-negative integer",
                openError(fraction));
        Path text = craft("e.safetensors", "{" + tensor("w", "\"F32\"", "[\"3\"]", "[0,4]") + "}", 4);
        assertEquals(text + ": tensor 'w' shape [\"3\"]: dimension 0 is \"3\", not a non-negative integer",
                openError(text));
        Path notArray = craft("f.safetensors", "{" + tensor("w", "\"F32\"", "3", "[0,4]") + "}", 4);
        assertEquals(notArray + ": tensor 'w' shape must be an array of non-negative integers, but is a number 3",
                openError(notArray));
        Path overflow = craft("g.safetensors", "{" + tensor("w", "\"F32\"", "[4294967296, 4294967296]", "[0,4]") + "}", 4);
        assertEquals(overflow + ": tensor 'w' shape [4294967296, 4294967296] × F32 has more elements or bytes than fit"
                + " in 64 bits", openError(overflow));
        Path bytesOverflow = craft("h.safetensors", "{" + tensor("w", "\"F64\"", "[4611686018427387904]", "[0,4]") + "}", 4);
        assertEquals(bytesOverflow + ": tensor 'w' shape [4611686018427387904] × F64 has more elements or bytes than"
                + " fit in 64 bits", openError(bytesOverflow));
        Path oddNibbles = craft("i.safetensors", "{" + tensor("w", "\"F4\"", "[3]", "[0,2]") + "}", 2);
        assertEquals(oddNibbles + ": tensor 'w' shape [3] × F4 is not a whole number of bytes", openError(oddNibbles));
    }

    @Test
    void badOffsets() throws Exception {
        Path mismatch = craft("model.safetensors", "{" + tensor("wte.weight", "\"F32\"", "[10, 20]", "[0, 100]") + "}", 100);
        assertEquals(mismatch + ": tensor 'wte.weight' data_offsets [0, 100] do not match shape [10, 20] × F32 = 800 bytes",
                openError(mismatch));
        Path reversed = craft("b.safetensors", "{" + tensor("w", "\"F32\"", "[4]", "[16,0]") + "}", 16);
        assertEquals(reversed + ": tensor 'w' data_offsets [16, 0] have begin after end", openError(reversed));
        Path outOfRange = craft("c.safetensors", "{" + tensor("w", "\"F32\"", "[1]", "[1000,1004]") + "}", 4);
        assertEquals(outOfRange + ": tensor 'w' data_offsets [1000, 1004] run past the end of the 4-byte data region;"
                + " the file is truncated", openError(outOfRange));
        Path oneOffset = craft("d.safetensors", "{" + tensor("w", "\"F32\"", "[1]", "[4]") + "}", 4);
        assertEquals(oneOffset + ": tensor 'w' data_offsets must be [begin, end] with non-negative integers, but is [4]",
                openError(oneOffset));
        Path negative = craft("e.safetensors", "{" + tensor("w", "\"F32\"", "[1]", "[-4, 0]") + "}", 4);
        assertEquals(negative + ": tensor 'w' data_offsets must be [begin, end] with non-negative integers, but is"
                + " [-4, 0]", openError(negative));
    }

    @Test
    void tensorsMustTileTheDataRegion() throws Exception {
        Path overlap = craft("a.safetensors", "{" + tensor("a", "\"F32\"", "[4]", "[0,16]") + ","
                + tensor("b", "\"F32\"", "[4]", "[8,24]") + "}", 24);
        assertEquals(overlap + ": tensors 'a' [0, 16] and 'b' [8, 24] overlap", openError(overlap));
        Path hole = craft("b.safetensors", "{" + tensor("a", "\"F32\"", "[4]", "[0,16]") + ","
                + tensor("b", "\"F32\"", "[4]", "[24,40]") + "}", 40);
        assertEquals(hole + ": bytes [16, 24) of the data region belong to no tensor; safetensors requires the data"
                + " region to be fully indexed, without holes", openError(hole));
        Path trailing = craft("c.safetensors", "{" + tensor("a", "\"F32\"", "[4]", "[0,16]") + "}", 24);
        assertEquals(trailing + ": the data region has 24 bytes but the tensors end at byte 16; the 8 bytes after it"
                + " belong to no tensor", openError(trailing));
        Path startsLate = craft("d.safetensors", "{" + tensor("a", "\"F32\"", "[1]", "[4,8]") + "}", 8);
        assertEquals(startsLate + ": bytes [0, 4) of the data region belong to no tensor; safetensors requires the data"
                + " region to be fully indexed, without holes", openError(startsLate));

        Path outOfOrder = craft("e.safetensors", "{" + tensor("b", "\"F32\"", "[1]", "[4,8]") + ","
                + tensor("z", "\"F32\"", "[0]", "[4,4]") + "," + tensor("a", "\"F32\"", "[1]", "[0,4]") + "}",
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(3f).putFloat(7f).array());
        try (SafetensorsFile f = SafetensorsFile.open(outOfOrder)) {
            assertEquals(List.of("b", "z", "a"), f.names(), "header order, not offset order");
            assertArrayEquals(new float[] {7f}, f.readFloats("b"));
            assertArrayEquals(new float[] {3f}, f.readFloats("a"));
        }
        Path empty = craft("f.safetensors", "{}      ", 0);
        try (SafetensorsFile f = SafetensorsFile.open(empty)) {
            assertEquals(List.of(), f.names());
            assertEquals(Map.of(), f.metadata());
        }
    }

    @Test
    void metadataMustMapStringsToStrings() throws Exception {
        Path number = craft("a.safetensors", "{\"__metadata__\":{\"format\":1}}", 0);
        assertEquals(number + ": __metadata__ value for 'format' must be a string, but is a number 1", openError(number));
        Path array = craft("b.safetensors", "{\"__metadata__\":[\"pt\"]}", 0);
        assertEquals(array + ": __metadata__ must be an object of string values, but is an array", openError(array));
        Path fine = craft("c.safetensors", "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"caf\u00e9\"}}", 0);
        try (SafetensorsFile f = SafetensorsFile.open(fine)) {
            assertEquals(List.of("format", "note"), List.copyOf(f.metadata().keySet()));
            assertEquals("caf\u00e9", f.metadata().get("note"));
        }
    }

    @Test
    void openingThroughTensorSourcePicksTheKind() {
        Path file = dir.resolve("model.safetensors");
        new SafetensorsWriter().add("w", new float[] {1, 2}, 2).write(file);
        try (TensorSource source = TensorSource.open(file)) {
            assertTrue(source instanceof SafetensorsFile);
            assertArrayEquals(new float[] {1, 2}, source.readFloats("w"));
        }
    }
}
