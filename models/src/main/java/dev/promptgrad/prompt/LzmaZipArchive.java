package dev.promptgrad.prompt;

import org.tukaani.xz.LZMAInputStream;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The entries of a zip archive that holds LZMA-compressed entries (method 14: what KoboldAI's soft-prompt tuners and
 * Python's ZIP_LZMA write), which java.util.zip refuses to open at all. It reads the central directory and inflates
 * stored, deflated and LZMA entries (zip's LZMA header, then raw LZMA decoded by org.tukaani:xz). Every size is
 * bounded before anything is allocated, each CRC-32 is checked; ZIP64, encryption and other methods are refused.
 * Not a general zip reader: {@link KoboldSoftPrompt} uses it only where {@link java.util.zip.ZipFile} cannot.
 */
final class LzmaZipArchive {
    static final int STORED = 0, DEFLATED = 8, LZMA = 14;
    private static final int END_OF_CENTRAL_DIRECTORY = 0x06054b50;
    private static final int CENTRAL_HEADER = 0x02014b50;
    private static final int LOCAL_HEADER = 0x04034b50;
    private static final int MAX_COMMENT = 0xFFFF;

    /** One central directory record. */
    record Entry(String name, int flags, int method, long crc, long compressed, long uncompressed, long localOffset) {
    }

    private LzmaZipArchive() {
    }

    /** The central directory of {@code zip}, at most {@code maxEntries} records. */
    static List<Entry> entries(Path zip, int maxEntries) {
        try (FileChannel file = FileChannel.open(zip, StandardOpenOption.READ)) {
            long size = file.size();
            // the end-of-central-directory record: 22 bytes and a comment of up to 65535, at the end of the file
            int tailLength = (int) Math.min(size, 22 + MAX_COMMENT);
            ByteBuffer tail = read(file, size - tailLength, tailLength, zip.toString());
            int end = -1;
            for (int i = tailLength - 22; i >= 0 && end < 0; i--) {
                if (tail.getInt(i) == END_OF_CENTRAL_DIRECTORY) end = i;
            }
            if (end < 0) throw new AdapterFormatException(zip + " has no end-of-central-directory record");
            int count = Short.toUnsignedInt(tail.getShort(end + 10));
            if (count > maxEntries) {
                throw new AdapterFormatException(zip + " has " + count + " entries, more than " + maxEntries);
            }
            long directorySize = Integer.toUnsignedLong(tail.getInt(end + 12));
            long directoryOffset = Integer.toUnsignedLong(tail.getInt(end + 16));
            ByteBuffer directory = read(file, directoryOffset, (int) Math.min(directorySize, size), zip.toString());
            List<Entry> entries = new ArrayList<>(count);
            int at = 0;
            for (int e = 0; e < count; e++) {
                if (at + 46 > directory.limit() || directory.getInt(at) != CENTRAL_HEADER) {
                    throw new AdapterFormatException(zip + ": central directory record " + e + " is malformed");
                }
                int nameLength = Short.toUnsignedInt(directory.getShort(at + 28));
                if (at + 46 + nameLength > directory.limit()) {
                    throw new AdapterFormatException(zip + ": central directory record " + e + " is malformed");
                }
                byte[] name = new byte[nameLength];
                directory.get(at + 46, name);
                entries.add(new Entry(new String(name, StandardCharsets.UTF_8),
                        Short.toUnsignedInt(directory.getShort(at + 8)), Short.toUnsignedInt(directory.getShort(at + 10)),
                        Integer.toUnsignedLong(directory.getInt(at + 16)), Integer.toUnsignedLong(directory.getInt(at + 20)),
                        Integer.toUnsignedLong(directory.getInt(at + 24)), Integer.toUnsignedLong(directory.getInt(at + 42))));
                at += 46 + nameLength + Short.toUnsignedInt(directory.getShort(at + 30))
                        + Short.toUnsignedInt(directory.getShort(at + 32));
            }
            return entries;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + zip + ": " + e.getMessage(), e);
        }
    }

    /** The uncompressed bytes of {@code entry}, at most {@code limit} of them. */
    static byte[] read(Path zip, Entry entry, long limit) {
        String where = zip + "!" + entry.name();
        if (entry.compressed() == 0xFFFFFFFFL || entry.uncompressed() == 0xFFFFFFFFL
                || entry.localOffset() == 0xFFFFFFFFL) {
            throw new AdapterFormatException(where + " is a ZIP64 entry, which a soft prompt never needs");
        }
        if ((entry.flags() & 1) != 0) throw new AdapterFormatException(where + " is encrypted");
        if (entry.uncompressed() > limit) {
            throw new AdapterFormatException(where + " inflates to " + entry.uncompressed() + " bytes, more than the "
                    + limit + " a soft prompt may have; refusing to read it");
        }
        try (FileChannel file = FileChannel.open(zip, StandardOpenOption.READ)) {
            ByteBuffer local = read(file, entry.localOffset(), 30, where);
            if (local.getInt(0) != LOCAL_HEADER) throw new AdapterFormatException(where + ": its local header is missing");
            long data = entry.localOffset() + 30 + Short.toUnsignedInt(local.getShort(26))
                    + Short.toUnsignedInt(local.getShort(28));
            ByteBuffer body = read(file, data, (int) Math.min(entry.compressed(), file.size()), where);
            byte[] compressed = new byte[body.limit()];
            body.get(0, compressed);
            int size = (int) entry.uncompressed();
            byte[] out = switch (entry.method()) {
                case STORED -> compressed;
                case DEFLATED -> inflate(compressed, size, where);
                case LZMA -> unlzma(compressed, size, (entry.flags() & 2) != 0, where);
                default -> throw new AdapterFormatException(where + " is compressed with method " + entry.method()
                        + "; re-save the archive with ZIP_DEFLATED, ZIP_STORED or ZIP_LZMA");
            };
            if (out.length != size) {
                throw new AdapterFormatException(where + ": its data gives " + out.length + " bytes, not the " + size
                        + " the archive records");
            }
            CRC32 check = new CRC32();
            check.update(out);
            if (check.getValue() != entry.crc()) {
                throw new AdapterFormatException(where + ": its CRC-32 is " + Long.toHexString(check.getValue())
                        + ", not the " + Long.toHexString(entry.crc()) + " the archive records; the file is damaged");
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + zip + ": " + e.getMessage(), e);
        }
    }

    /** Raw deflate, as zip stores it. */
    private static byte[] inflate(byte[] compressed, int size, String where) {
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(compressed);
            byte[] out = new byte[size];
            int n = 0;
            while (n < size && !inflater.finished()) {
                int got = inflater.inflate(out, n, size - n);
                if (got == 0 && (inflater.needsInput() || inflater.needsDictionary())) break;
                n += got;
            }
            return n == size ? out : Arrays.copyOf(out, n);
        } catch (DataFormatException e) {
            throw new AdapterFormatException(where + " is not valid deflate data: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }

    /**
     * zip's LZMA entry: version (2 bytes), properties size (2 bytes, 5), the properties (lc/lp/pb in one byte, the
     * dictionary size in four), then raw LZMA, ended by an end marker when general-purpose flag bit 1 says so (as
     * Python's zipfile writes it) or by the recorded size otherwise.
     */
    private static byte[] unlzma(byte[] compressed, int size, boolean endMarker, String where) {
        if (compressed.length < 9) throw new AdapterFormatException(where + ": its LZMA header is cut short");
        ByteBuffer header = ByteBuffer.wrap(compressed).order(ByteOrder.LITTLE_ENDIAN);
        int propertiesSize = Short.toUnsignedInt(header.getShort(2));
        if (propertiesSize != 5) {
            throw new AdapterFormatException(where + ": its LZMA properties are " + propertiesSize + " bytes, not 5");
        }
        byte properties = compressed[4];
        long dictionarySize = Integer.toUnsignedLong(header.getInt(5));
        // a dictionary larger than the output is never reached; bounding it bounds the decoder's memory
        int dictionary = (int) Math.max(4096, Math.min(dictionarySize, size));
        try (InputStream in = new LZMAInputStream(new ByteArrayInputStream(compressed, 9, compressed.length - 9),
                endMarker ? -1 : size, properties, dictionary)) {
            byte[] out = in.readNBytes(size);
            if (in.read() >= 0) {
                throw new AdapterFormatException(where + ": its LZMA data goes on past the " + size
                        + " bytes the archive records");
            }
            return out;
        } catch (IOException | IllegalArgumentException e) {
            throw new AdapterFormatException(where + " is not valid LZMA data: " + e.getMessage(), e);
        }
    }

    private static ByteBuffer read(FileChannel file, long offset, int length, String where) throws IOException {
        if (offset < 0 || length < 0 || offset + length > file.size()) {
            throw new AdapterFormatException(where + ": a record reaches past the end of the archive");
        }
        ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        while (buffer.hasRemaining()) {
            if (file.read(buffer, offset + buffer.position()) < 0) {
                throw new AdapterFormatException(where + ": the archive ends inside a record");
            }
        }
        return buffer.flip();
    }
}
