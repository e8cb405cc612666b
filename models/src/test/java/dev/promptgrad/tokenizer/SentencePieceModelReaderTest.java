package dev.promptgrad.tokenizer;

import dev.promptgrad.protobuf.ProtobufReader;
import dev.promptgrad.testing.ProtobufWriter;
import dev.promptgrad.testing.SharedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the SentencePiece reader refuses, each with a TokenizerFormatException that names the file and the problem:
 * malformed protobuf (truncation anywhere, wrong wire types, lengths past the end, groups), models it does not
 * compute (Unigram, WORD, normalizers with a character map, whitespace as suffix, UNUSED pieces) and inconsistent
 * vocabularies. Files are crafted byte by byte here, or cut from Llama 2's real tokenizer.model.
 */
class SentencePieceModelReaderTest {
    private static final String SOURCE = "crafted.model";

    @TempDir
    Path temp;

    private static ProtobufWriter piece(String text, float score, int type) {
        return new ProtobufWriter().string(1, text).fixed32(2, score).intField(3, type);
    }

    /** A valid model: UNK, BOS, EOS, "▁", "a", "▁a", then {@code more} pieces; BPE, identity normalizer. */
    private static ProtobufWriter model(ProtobufWriter trainer, ProtobufWriter normalizer, ProtobufWriter... more) {
        ProtobufWriter model = new ProtobufWriter().message(1, piece("<unk>", 0, 2)).message(1, piece("<s>", 0, 3))
                .message(1, piece("</s>", 0, 3)).message(1, piece("▁", -2, 1)).message(1, piece("a", -3, 1))
                .message(1, piece("▁a", -1, 1));
        for (ProtobufWriter extra : more) model.message(1, extra);
        return model.message(2, trainer).message(3, normalizer);
    }

    private static ProtobufWriter bpe() {
        return new ProtobufWriter().intField(3, 2);
    }

    private static ProtobufWriter identity() {
        return new ProtobufWriter().string(1, "identity");
    }

    private static void refused(byte[] bytes, String... expected) {
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class,
                () -> SentencePieceModelReader.parse(bytes, SOURCE));
        assertTrue(e.getMessage().startsWith(SOURCE + ": "), e.getMessage());
        for (String part : expected) assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    @Test
    void theCraftedBaseModelIsValid() {
        SentencePieceBpeTokenizer tokenizer = SentencePieceModelReader.parse(model(bpe(), identity()).bytes(), SOURCE);
        assertArrayEquals(new int[]{5, 5}, tokenizer.encode("a a"));
        assertArrayEquals(new int[]{5, 0}, tokenizer.encode("ab"), "no byte fallback: b is <unk>");
    }

    @Test
    void malformedProtobufIsRefusedWithItsOffset() {
        refused(new ProtobufWriter().raw(0x0A, 0x80).bytes(), "byte 1", "truncated varint");
        refused(new ProtobufWriter().raw(0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F).bytes(), "byte 1",
                "declares 4294967295 bytes but only 0 remain");
        refused(new ProtobufWriter().raw(0x0A, 0x03, 0x0A, 0x09, 0x61).bytes(), "byte 3", "declares 9 bytes but only 1"
                + " remain in the enclosing message");
        refused(new ProtobufWriter().raw(0x0A, 0x05, 0x0A, 0x01).bytes(), "byte 1", "declares 5 bytes but only 2");
        refused(new ProtobufWriter().tag(1, 3).bytes(), "groups");
        refused(new ProtobufWriter().raw(0x0E).bytes(), "wire type 6 does not exist");
        refused(new ProtobufWriter().message(1, new ProtobufWriter().raw(0x0A, 0x02, 0xC3, 0x28)).bytes(),
                "not valid UTF-8");
        refused(new ProtobufWriter().raw(0x0F).bytes(), "wire type 7");
    }

    @Test
    void knownFieldsWithTheWrongWireTypeAreRefused() {
        refused(new ProtobufWriter().intField(1, 7).bytes(), "byte 0", "ModelProto.pieces (field 1) has wire type 0,"
                + " expected 2");
        refused(model(bpe(), identity(), new ProtobufWriter().string(1, "b").intField(2, 3)).bytes(),
                "piece 6: the score (field 2) has wire type 0, expected 5");
        refused(model(bpe(), identity(), new ProtobufWriter().string(1, "b").fixed32(3, 1)).bytes(),
                "piece 6: the type (field 3) has wire type 5, expected 0");
        refused(model(new ProtobufWriter().string(3, "BPE"), identity()).bytes(), "trainer_spec.model_type (field 3)");
        refused(model(bpe().fixed32(35, 1), identity()).bytes(), "trainer_spec.byte_fallback (field 35)");
        refused(model(bpe(), identity().intField(2, 0)).bytes(), "normalizer_spec.precompiled_charsmap (field 2)");
    }

    @Test
    void everyTruncationOfTheRealFileIsRefused() throws IOException {
        byte[] real = Files.readAllBytes(SharedFiles.find("tokenizers/llama2/tokenizer.model"));
        for (int length = 0; length < real.length; length += 1 + length / 3 + 997) {
            int cut = length;
            TokenizerFormatException e = assertThrows(TokenizerFormatException.class,
                    () -> SentencePieceModelReader.parse(Arrays.copyOf(real, cut), SOURCE), "cut at " + cut);
            assertTrue(e.getMessage().startsWith(SOURCE + ": "), e.getMessage());
        }
        // a cut after the last piece reads as a whole message: the missing specs tell that it was cut
        int piecesEnd = lastPieceEnd(real);
        refused(Arrays.copyOf(real, piecesEnd), "no trainer_spec (ModelProto field 2)", "truncated");
        refused(Arrays.copyOf(real, real.length - 1), "byte");
    }

    /** The offset just past the last ModelProto.pieces field of {@code model} (they come first). */
    private static int lastPieceEnd(byte[] model) {
        ProtobufReader reader = new ProtobufReader(model, "tokenizer.model", IllegalStateException::new);
        int end = 0;
        while (reader.hasMore() && ProtobufReader.fieldNumber(reader.readTag()) == 1) {
            reader.skip(ProtobufReader.LENGTH_DELIMITED);
            end = reader.position();
        }
        return end;
    }

    @Test
    void modelsItDoesNotComputeAreRefusedByName() {
        refused(model(new ProtobufWriter().intField(4, 8000), identity()).bytes(), "SentencePiece UNIGRAM model",
                "T5", "BPE models");
        refused(model(new ProtobufWriter().intField(3, 3), identity()).bytes(), "WORD model");
        refused(model(new ProtobufWriter().intField(3, 9), identity()).bytes(), "unknown type 9");
        refused(model(bpe().intField(24, 1), identity()).bytes(), "treat_whitespace_as_suffix");
        refused(model(bpe(), new ProtobufWriter().string(1, "nmt_nfkc").bytesField(2, new byte[]{1, 2, 3})).bytes(),
                "normalizer_spec 'nmt_nfkc' carries a 3-byte character map", "identity");
        refused(model(bpe(), identity()).message(5, new ProtobufWriter().string(1, "x").bytesField(2, new byte[9]))
                .bytes(), "denormalizer_spec 'x' carries a 9-byte character map");
        refused(model(bpe(), identity(), piece("b", 0, 5)).bytes(), "piece 6 ('b') is of type UNUSED");
    }

    @Test
    void inconsistentVocabulariesAreRefused() {
        refused(model(bpe(), identity(), piece("a", -4, 1)).bytes(), "pieces 4 and 6 are both 'a'");
        refused(model(bpe(), identity(), piece("<unk2>", 0, 2)).bytes(), "pieces 0 and 6 are both of type UNKNOWN");
        refused(new ProtobufWriter().message(1, piece("a", 0, 1)).message(2, bpe()).message(3, identity()).bytes(),
                "no piece has type UNKNOWN");
        refused(model(bpe(), identity(), piece("<0x41>", 0, 6)).bytes(), "BYTE but trainer_spec.byte_fallback is false");
        refused(model(bpe().intField(35, 1), identity(), piece("<0x4a>", 0, 6)).bytes(), "('<0x4a>') is of type BYTE",
                "upper-case");
        refused(model(bpe().intField(35, 1), identity(), piece("<0x4A>", 0, 6)).bytes(),
                "byte_fallback is true but the model has 1 BYTE pieces, not one for each of the 256 bytes");
        refused(model(bpe(), identity(), piece("", 0, 1)).bytes(), "piece 6 has an empty text");
        refused(model(bpe(), identity(), new ProtobufWriter().fixed32(2, 1)).bytes(), "piece 6 has no text");
        refused(model(bpe(), identity(), piece("b", Float.NaN, 1)).bytes(), "piece 6 has score NaN");
        refused(model(bpe(), identity(), piece("b", 0, 7)).bytes(), "piece 6 has type 7");
        refused(new ProtobufWriter().bytes(), "no pieces (ModelProto field 1)");
        refused(new ProtobufWriter().message(1, piece("<unk>", 0, 2)).message(2, bpe()).bytes(),
                "no normalizer_spec (ModelProto field 3)");
    }

    @Test
    void otherFilesAreRefusedThroughTokenizerLoad() throws IOException {
        Path bin = temp.resolve("tokenizer.model");
        Files.copy(SharedFiles.find("tokenizers/llama2/tokenizer.bin"), bin);
        TokenizerFormatException e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(bin));
        assertTrue(e.getMessage().startsWith(bin + ": "), e.getMessage());

        Path text = temp.resolve("text.model");
        Files.writeString(text, "this is not protobuf\n");
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(text));
        assertTrue(e.getMessage().startsWith(text + ": "), e.getMessage());

        Path huge = temp.resolve("huge.model");
        try (RandomAccessFile sparse = new RandomAccessFile(huge.toFile(), "rw")) {
            sparse.setLength(SentencePieceModelReader.MAX_FILE_BYTES + 1);
        }
        e = assertThrows(TokenizerFormatException.class, () -> Tokenizer.load(huge));
        assertTrue(e.getMessage().contains(huge + ": " + (SentencePieceModelReader.MAX_FILE_BYTES + 1)
                + " bytes is more than the"), e.getMessage());
    }
}
