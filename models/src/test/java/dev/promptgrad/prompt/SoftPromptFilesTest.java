package dev.promptgrad.prompt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The .npy and KoboldAI .zip readers against files NumPy and Python's zipfile wrote (tools/soft_prompt_fixtures.py):
 * every element type, the writer byte for byte equal to numpy.save, round trips, and the refusals (Fortran order,
 * truncation, hostile entry names, LZMA, inflation caps).
 */
class SoftPromptFilesTest {
    private static final Path FIXTURES = Path.of("src/test/resources/fixtures/soft-prompts");

    /** i/8 − 1, the fixture values, (3, 16). */
    private static float[] expected() {
        float[] values = new float[48];
        for (int i = 0; i < values.length; i++) values[i] = i / 8f - 1;
        return values;
    }

    private static NpyArray npy(String name) throws IOException {
        return NpyArray.parse(Files.readAllBytes(FIXTURES.resolve(name)), name);
    }

    @Test
    void numpysFilesReadInEveryElementType() throws IOException {
        for (String name : List.of("lester-f32.npy", "f16.npy", "bf16-v2.npy")) {
            NpyArray array = npy(name);
            assertArrayEquals(new int[] {3, 16}, array.shape(), name);
            assertArrayEquals(expected(), array.values(), 0f, name);
        }
    }

    @Test
    void theWriterIsByteForByteNumpySave() throws IOException {
        byte[] numpy = Files.readAllBytes(FIXTURES.resolve("lester-f32.npy"));
        assertArrayEquals(numpy, new NpyArray(new int[] {3, 16}, expected()).toBytes());
        NpyArray vector = new NpyArray(new int[] {5}, new float[] {1, 2, 3, 4, 5});
        NpyArray back = NpyArray.parse(vector.toBytes(), "vector");
        assertArrayEquals(new int[] {5}, back.shape());
        assertArrayEquals(vector.values(), back.values(), 0f);
        assertEquals(0, vector.toBytes().length % 4, "data starts on a 64-byte boundary after a 10-byte preamble");
    }

    @Test
    void badArraysAreRefused() throws IOException {
        assertMentions(assertThrows(AdapterFormatException.class, () -> npy("fortran.npy")),
                "fortran.npy: fortran_order is true; only C-ordered arrays");
        byte[] good = Files.readAllBytes(FIXTURES.resolve("lester-f32.npy"));
        assertMentions(assertThrows(AdapterFormatException.class,
                () -> NpyArray.parse(Arrays.copyOf(good, good.length - 4), "cut.npy")),
                "cut.npy: shape [3, 16] of '<f4' needs 192 data bytes, but the file has 188");
        assertMentions(assertThrows(AdapterFormatException.class, () -> NpyArray.parse(new byte[] {1, 2, 3}, "x.npy")),
                "x.npy is not a .npy file");
        byte[] huge = good.clone();
        huge[8] = (byte) 0xff;
        huge[9] = (byte) 0x7f;
        assertMentions(assertThrows(AdapterFormatException.class, () -> NpyArray.parse(huge, "huge.npy")),
                "huge.npy: the .npy header claims 32767 bytes");
        String header = new String(good, 10, 54, StandardCharsets.ISO_8859_1);
        byte[] otherType = good.clone();
        System.arraycopy(header.replace("<f4", "<i4").getBytes(StandardCharsets.ISO_8859_1), 0,
                otherType, 10, 54);
        assertMentions(assertThrows(AdapterFormatException.class, () -> NpyArray.parse(otherType, "int.npy")),
                "element type '<i4' is not read");
        byte[] pickle = good.clone();
        System.arraycopy(header.replace("'descr'", "'dtype'").getBytes(StandardCharsets.ISO_8859_1), 0,
                pickle, 10, 54);
        assertMentions(assertThrows(AdapterFormatException.class, () -> NpyArray.parse(pickle, "keys.npy")),
                "must have exactly the keys descr, fortran_order and shape");
    }

    @ParameterizedTest
    @ValueSource(strings = {"kobold-deflated.zip", "kobold-lzma.zip"})
    void koboldArchivesReadTheirTensorAndMeta(String archive) {
        // kobold-lzma.zip: Python's ZIP_LZMA (method 14), as KoboldAI's tuners write
        KoboldSoftPrompt prompt = KoboldSoftPrompt.read(FIXTURES.resolve(archive));
        assertEquals(3, prompt.rows());
        assertEquals(16, prompt.width());
        assertArrayEquals(expected(), prompt.values(), 0f);
        assertEquals("tiny", prompt.name());
        assertEquals("promptgrad tests", prompt.author());
        assertEquals(List.of("gpt2-tiny"), prompt.supported());
        assertEquals("i/8 - 1", prompt.description());
    }

    @Test
    void damagedLzmaEntriesAreRefused(@TempDir Path folder) throws IOException {
        byte[] good = Files.readAllBytes(FIXTURES.resolve("kobold-lzma.zip"));
        int data = indexOf(good, "tensor.npy".getBytes(StandardCharsets.US_ASCII)) + "tensor.npy".length();
        byte[] flipped = good.clone();
        flipped[data + 40] ^= 0x5A;   // inside the LZMA stream of tensor.npy
        Path damaged = Files.write(folder.resolve("damaged.zip"), flipped);
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(damaged)),
                "damaged.zip!tensor.npy");
        byte[] props = good.clone();
        props[data + 2] = 6;   // zip's LZMA header: the properties size must be 5
        Path badProperties = Files.write(folder.resolve("properties.zip"), props);
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(badProperties)),
                "properties.zip!tensor.npy: its LZMA properties are 6 bytes, not 5");
        Path cut = Files.write(folder.resolve("cut.zip"), Arrays.copyOf(good, good.length - 30));
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(cut)), "cut.zip");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void koboldArchivesRoundTrip(@TempDir Path folder) {
        Path zip = folder.resolve("out.zip");
        new KoboldSoftPrompt(3, 16, expected(), "round", null, List.of("m"), "trip").write(zip);
        KoboldSoftPrompt back = KoboldSoftPrompt.read(zip);
        assertArrayEquals(expected(), back.values(), 0f);
        assertEquals("round", back.name());
        assertEquals(null, back.author());
        assertEquals(List.of("m"), back.supported());
        assertEquals("trip", back.description());
    }

    @Test
    void hostileAndUnreadableArchivesAreRefused(@TempDir Path folder) throws IOException {
        Path escape = FIXTURES.resolve("kobold-escape.zip");
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(escape)),
                "has an entry named '../tensor.npy', which points outside the archive");
        Path bomb = folder.resolve("bomb.zip");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(bomb))) {
            out.putNextEntry(new ZipEntry("meta.json"));
            out.write(new byte[(1 << 20) + 1]);
            out.closeEntry();
        }
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(bomb)),
                "bomb.zip!meta.json", "more than the 1048576");
        Path notZip = Files.writeString(folder.resolve("text.zip"), "hello");
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(notZip)),
                "text.zip is not a readable zip archive");
        Path noTensor = folder.resolve("meta-only.zip");
        try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(noTensor))) {
            out.putNextEntry(new ZipEntry("meta.json"));
            out.write("{}".getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
        assertMentions(assertThrows(AdapterFormatException.class, () -> KoboldSoftPrompt.read(noTensor)),
                "has no tensor.npy");
    }
}
