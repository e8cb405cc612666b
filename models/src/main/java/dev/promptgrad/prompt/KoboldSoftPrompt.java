package dev.promptgrad.prompt;

import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonWriter;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * A KoboldAI soft prompt: a {@code .zip} holding {@code tensor.npy}, the prompt [N, dim] as float32, float16 or
 * bfloat16 (NumPy's {@code V2}), and {@code meta.json} with {@code name}, {@code author}, {@code supported} (the
 * model names it was made for) and {@code description}, all optional; entries stored, deflated, or LZMA-compressed
 * as KoboldAI's tuners write them ({@link LzmaZipArchive}). Reading is defensive: entries whose names
 * climb out of the archive ('..', absolute paths, drive letters, backslashes) are refused, entry count and inflated
 * sizes are capped, and the array is read with {@link NpyArray}'s checks. Writing stores a float32 tensor and
 * meta.json, deflated, replacing the file atomically.
 *
 * @param rows      N, the virtual tokens
 * @param width     dim, the model's hidden size
 * @param values    (rows, width) row-major
 * @param supported model names; may be empty
 */
public record KoboldSoftPrompt(int rows, int width, float[] values, String name, String author, List<String> supported,
                               String description) {

    public static final String TENSOR_ENTRY = "tensor.npy";
    public static final String META_ENTRY = "meta.json";
    /** The most entries an archive may have. */
    private static final int MAX_ENTRIES = 64;
    /** The most bytes tensor.npy may inflate to (and a Lester .npy may have): 2048 rows of 16384 float32 values. */
    public static final long MAX_TENSOR_BYTES = 2048L * 16384 * 4 + 65536;
    private static final long MAX_META_BYTES = 1 << 20;

    public KoboldSoftPrompt {
        if (rows < 1 || width < 1 || values.length != (long) rows * width) {
            throw new IllegalArgumentException("a soft prompt of " + rows + " × " + width + " with " + values.length
                    + " values");
        }
        values = values.clone();
        supported = List.copyOf(supported);
    }

    @Override
    public float[] values() {
        return values.clone();
    }

    /**
     * Reads a KoboldAI soft prompt archive.
     *
     * @throws AdapterFormatException naming the file (and entry) and what is wrong
     */
    public static KoboldSoftPrompt read(Path zip) {
        if (!Files.isRegularFile(zip)) {
            throw new AdapterFormatException(zip + (Files.exists(zip) ? " is not a file" : " does not exist")
                    + "; a KoboldAI soft prompt is a .zip holding " + TENSOR_ENTRY + " and " + META_ENTRY);
        }
        byte[] tensorBytes = null;
        byte[] metaBytes = null;
        try (ZipFile archive = new ZipFile(zip.toFile())) {
            Enumeration<? extends ZipEntry> entries = archive.entries();
            int count = 0;
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                if (++count > MAX_ENTRIES) {
                    throw new AdapterFormatException(zip + " has more than " + MAX_ENTRIES + " entries; a soft prompt has two");
                }
                checkName(zip, entry.getName());
                if (entry.getName().equals(TENSOR_ENTRY)) {
                    tensorBytes = inflate(archive, entry, zip, MAX_TENSOR_BYTES);
                } else if (entry.getName().equals(META_ENTRY)) {
                    metaBytes = inflate(archive, entry, zip, MAX_META_BYTES);
                }
            }
        } catch (EOFException e) {
            throw new AdapterFormatException(zip + " is not a readable zip archive (it ends inside a record that says"
                    + " it goes on)", e);
        } catch (ZipException e) {
            // KoboldAI's tuners compress with LZMA (zip method 14), which java.util.zip refuses to open
            if (!hasLzmaEntry(zip)) {
                throw new AdapterFormatException(zip + " is not a readable zip archive (" + e.getMessage() + ")", e);
            }
            for (LzmaZipArchive.Entry entry : LzmaZipArchive.entries(zip, MAX_ENTRIES)) {
                checkName(zip, entry.name());
                if (entry.name().equals(TENSOR_ENTRY)) {
                    tensorBytes = LzmaZipArchive.read(zip, entry, MAX_TENSOR_BYTES);
                } else if (entry.name().equals(META_ENTRY)) {
                    metaBytes = LzmaZipArchive.read(zip, entry, MAX_META_BYTES);
                }
            }
        } catch (NoSuchFileException e) {
            throw new AdapterFormatException(zip + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + zip + ": " + e.getMessage(), e);
        }
        if (tensorBytes == null) throw new AdapterFormatException(zip + " has no " + TENSOR_ENTRY + "; it is not a KoboldAI soft prompt");
        NpyArray tensor = NpyArray.parse(tensorBytes, zip + "!" + TENSOR_ENTRY);
        int[] shape = tensor.shape();
        if (shape.length != 2 || shape[0] < 1 || shape[1] < 1) {
            throw new AdapterFormatException(zip + "!" + TENSOR_ENTRY + " has shape " + Arrays.toString(shape)
                    + "; a soft prompt is [virtual tokens, hidden size]");
        }
        checkFinite(tensor.values(), shape[1], zip + "!" + TENSOR_ENTRY);
        String name = null, author = null, description = null;
        List<String> supported = new ArrayList<>();
        if (metaBytes != null) {
            Object parsed;
            try {
                parsed = Json.parse(metaBytes, zip + "!" + META_ENTRY, JsonLimits.upTo(MAX_META_BYTES));
            } catch (JsonException e) {
                throw new AdapterFormatException(e.getMessage(), e);
            }
            if (!(parsed instanceof Map<?, ?> meta)) {
                throw new AdapterFormatException(zip + "!" + META_ENTRY + " is " + Json.describe(parsed) + ", not an object");
            }
            name = text(meta, "name", zip);
            author = text(meta, "author", zip);
            description = text(meta, "description", zip);
            Object models = meta.get("supported");
            if (models instanceof String one) {
                supported.add(one);
            } else if (models instanceof List<?> list) {
                for (Object model : list) {
                    if (!(model instanceof String text)) {
                        throw new AdapterFormatException(zip + "!" + META_ENTRY + ": 'supported' must list strings, but"
                                + " holds " + Json.describe(model));
                    }
                    supported.add(text);
                }
            } else if (models != null) {
                throw new AdapterFormatException(zip + "!" + META_ENTRY + ": 'supported' must be a list of model names,"
                        + " not " + Json.describe(models));
            }
        }
        return new KoboldSoftPrompt(shape[0], shape[1], tensor.values(), name, author, supported, description);
    }

    /** Writes the archive to {@code zip}, replacing it atomically; null metadata fields are left out. */
    public void write(Path zip) {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("name", name == null ? "" : name);
        if (author != null && !author.isBlank()) meta.put("author", author);
        meta.put("supported", supported);
        meta.put("description", description == null ? "" : description);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream out = new ZipOutputStream(bytes)) {
            out.putNextEntry(new ZipEntry(TENSOR_ENTRY));
            out.write(new NpyArray(new int[] {rows, width}, values).toBytes());
            out.closeEntry();
            out.putNextEntry(new ZipEntry(META_ENTRY));
            // KoboldAI: json.dumps(meta, indent=2)
            out.write(JsonWriter.pretty().write(meta).getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the archive for " + zip + ": " + e.getMessage(), e);
        }
        try {
            AtomicFile.write(zip, bytes.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + zip + ": " + e.getMessage(), e);
        }
    }

    /** Whether {@code zip}'s central directory lists an LZMA entry (false also when it cannot be read at all). */
    private static boolean hasLzmaEntry(Path zip) {
        try {
            return LzmaZipArchive.entries(zip, MAX_ENTRIES).stream().anyMatch(e -> e.method() == LzmaZipArchive.LZMA);
        } catch (AdapterFormatException unreadable) {
            return false;   // the caller reports java.util.zip's own reason
        }
    }

        /** Refuses a name that would leave the folder the archive is extracted to. */
    private static void checkName(Path zip, String name) {
        boolean climbs = false;
        for (String part : name.split("/", -1)) climbs |= part.equals("..");
        if (climbs || name.startsWith("/") || name.contains("\\") || name.contains(":") || name.isEmpty()) {
            throw new AdapterFormatException(zip + " has an entry named '" + name + "', which points outside the archive"
                    + " ('..', an absolute path, a drive or a backslash); refusing to read it");
        }
    }

    private static byte[] inflate(ZipFile archive, ZipEntry entry, Path zip, long limit) throws IOException {
        if (entry.getSize() > limit) {
            throw new AdapterFormatException(zip + "!" + entry.getName() + " declares " + entry.getSize() + " bytes, more"
                    + " than the " + limit + " a soft prompt may have");
        }
        try (InputStream in = archive.getInputStream(entry)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[1 << 16];
            long total = 0;
            for (int n; (n = in.read(buffer)) > 0; ) {
                total += n;
                if (total > limit) {
                    throw new AdapterFormatException(zip + "!" + entry.getName() + " inflates to more than " + limit
                            + " bytes, more than a soft prompt may have; refusing to read it");
                }
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        } catch (ZipException | EOFException e) {
            // a corrupt or truncated entry (EOFException: the deflate stream ends before its data does)
            String method = entry.getMethod() == ZipEntry.STORED || entry.getMethod() == ZipEntry.DEFLATED ? ""
                    : " (compression method " + entry.getMethod() + "; re-save the archive with ZIP_DEFLATED, ZIP_STORED"
                    + " or ZIP_LZMA)";
            throw new AdapterFormatException(zip + "!" + entry.getName() + " cannot be inflated: " + e.getMessage()
                    + method, e);
        }
    }

    private static String text(Map<?, ?> meta, String key, Path zip) {
        Object value = meta.get(key);
        if (value == null || value instanceof String) return (String) value;
        throw new AdapterFormatException(zip + "!" + META_ENTRY + ": '" + key + "' must be a string, not "
                + Json.describe(value));
    }

    static void checkFinite(float[] values, int width, String source) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new AdapterFormatException(source + ": element [" + i / width + ", " + i % width + "] is " + values[i]
                        + "; a prompt must be finite");
            }
        }
    }
}
