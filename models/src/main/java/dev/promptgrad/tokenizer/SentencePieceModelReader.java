package dev.promptgrad.tokenizer;

import dev.promptgrad.protobuf.ProtobufReader;
import dev.promptgrad.tokenizer.SentencePieceBpeTokenizer.PieceType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a SentencePiece {@code tokenizer.model}: the protobuf {@code ModelProto} of google/sentencepiece's
 * sentencepiece_model.proto (pieces = 1, trainer_spec = 2, normalizer_spec = 3, denormalizer_spec = 5), parsed by
 * {@link ProtobufReader}; repeated specs merge field by field, as protobuf does. It builds a
 * {@link SentencePieceBpeTokenizer} and refuses, naming the file, what that cannot reproduce: Unigram, WORD and CHAR
 * models, a normalizer or denormalizer with a character map (NFKC and the like), whitespace as a suffix, UNUSED
 * pieces, and any malformed or inconsistent file. BOS, EOS and PAD are found as SentencePiece's processor finds
 * them, by trainer_spec's bos_piece/eos_piece/pad_piece names (its bos_id etc. are training settings it does not
 * read). Not a writer; the other training options are skipped.
 */
final class SentencePieceModelReader {
    /** The largest file read: real ones are a few megabytes (Llama 2's is 488 KiB, Gemma's 4 MiB). */
    static final long MAX_FILE_BYTES = 64L << 20;
    /** The most pieces read, which bounds memory on a hostile file (the largest real vocabularies have 256 Ki). */
    static final int MAX_PIECES = 1 << 20;

    private static final int BPE = 2;
    private static final String[] MODEL_TYPES = {"", "UNIGRAM", "BPE", "WORD", "CHAR"};
    private static final String SUPPORTED = "promptgrad encodes SentencePiece BPE models (Llama 2, Mistral, TinyLlama)";

    /** TrainerSpec fields that matter when encoding; proto2 defaults. */
    private static final class TrainerSpec {
        int modelType = 1;                 // 3: UNIGRAM
        boolean treatWhitespaceAsSuffix;   // 24
        boolean byteFallback;              // 35
        String bosPiece = "<s>";           // 46
        String eosPiece = "</s>";          // 47
        String padPiece = "<pad>";         // 48
    }

    /** NormalizerSpec fields; proto2 defaults. */
    private static final class NormalizerSpec {
        String name = "";                  // 1
        int charsmapBytes;                 // 2: precompiled_charsmap, by length only
        boolean addDummyPrefix = true;     // 3
        boolean removeExtraWhitespaces = true;  // 4
        boolean escapeWhitespaces = true;  // 5
    }

    private SentencePieceModelReader() {
    }

    /** Reads {@code file} (at most {@link #MAX_FILE_BYTES}). */
    static SentencePieceBpeTokenizer read(Path file) {
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new TokenizerFormatException(file + ": " + size + " bytes is more than the " + MAX_FILE_BYTES
                        + " a SentencePiece tokenizer.model is read up to; is it a tokenizer.model?");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read SentencePiece model " + file + ": " + e.getMessage(), e);
        }
        return parse(bytes, file.toString());
    }

    /** Parses the bytes of a ModelProto; {@code source} names them in errors. */
    static SentencePieceBpeTokenizer parse(byte[] bytes, String source) {
        ProtobufReader model = new ProtobufReader(bytes, source, TokenizerFormatException::new);
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<PieceType> types = new ArrayList<>();
        TrainerSpec trainer = new TrainerSpec();
        NormalizerSpec normalizer = new NormalizerSpec(), denormalizer = new NormalizerSpec();
        boolean sawTrainer = false, sawNormalizer = false;
        while (model.hasMore()) {
            int at = model.position();
            long tag = model.readTag();
            int field = ProtobufReader.fieldNumber(tag);
            switch (field) {
                case 1 -> {
                    if (pieces.size() == MAX_PIECES) {
                        throw model.error(at, "more than " + MAX_PIECES + " pieces; no SentencePiece model has that many");
                    }
                    requireWireType(model, at, tag, ProtobufReader.LENGTH_DELIMITED, "ModelProto.pieces");
                    readPiece(model.readMessage(), pieces.size(), pieces, scores, types);
                }
                case 2 -> {
                    requireWireType(model, at, tag, ProtobufReader.LENGTH_DELIMITED, "ModelProto.trainer_spec");
                    readTrainerSpec(model.readMessage(), trainer);
                    sawTrainer = true;
                }
                case 3, 5 -> {
                    String what = field == 3 ? "ModelProto.normalizer_spec" : "ModelProto.denormalizer_spec";
                    requireWireType(model, at, tag, ProtobufReader.LENGTH_DELIMITED, what);
                    readNormalizerSpec(model.readMessage(), field == 3 ? normalizer : denormalizer, what);
                    sawNormalizer |= field == 3;
                }
                default -> model.skip(ProtobufReader.wireType(tag));
            }
        }
        if (pieces.isEmpty() || !sawTrainer || !sawNormalizer) {
            throw new TokenizerFormatException(source + ": no " + (pieces.isEmpty() ? "pieces (ModelProto field 1)"
                    : !sawTrainer ? "trainer_spec (ModelProto field 2)" : "normalizer_spec (ModelProto field 3)")
                    + ", which SentencePiece always writes; is the file truncated, or not a SentencePiece tokenizer.model?");
        }
        check(source, pieces, types, trainer, normalizer, denormalizer);
        float[] scoreArray = new float[scores.size()];
        for (int i = 0; i < scoreArray.length; i++) scoreArray[i] = scores.get(i);
        var whitespace = new SentencePieceBpeTokenizer.Whitespace(normalizer.addDummyPrefix,
                normalizer.removeExtraWhitespaces, normalizer.escapeWhitespaces);
        return new SentencePieceBpeTokenizer(source, pieces.toArray(String[]::new), scoreArray,
                types.toArray(PieceType[]::new), whitespace, trainer.byteFallback, trainer.bosPiece, trainer.eosPiece,
                trainer.padPiece);
    }

    // SentencePiece: piece = 1, score = 2, type = 3
    private static void readPiece(ProtobufReader message, int id, List<String> pieces, List<Float> scores,
                                  List<PieceType> types) {
        int start = message.position();
        String piece = null;
        float score = 0f;
        PieceType type = PieceType.NORMAL;
        while (message.hasMore()) {
            int at = message.position();
            long tag = message.readTag();
            switch (ProtobufReader.fieldNumber(tag)) {
                case 1 -> {
                    requireWireType(message, at, tag, ProtobufReader.LENGTH_DELIMITED, "piece " + id + ": the text");
                    piece = message.readString();
                }
                case 2 -> {
                    requireWireType(message, at, tag, ProtobufReader.FIXED32, "piece " + id + ": the score");
                    score = Float.intBitsToFloat(message.readFixed32());
                    if (Float.isNaN(score)) throw message.error(at, "piece " + id + " has score NaN");
                }
                case 3 -> {
                    requireWireType(message, at, tag, ProtobufReader.VARINT, "piece " + id + ": the type");
                    int number = message.readInt32("piece " + id + ": type");
                    type = PieceType.ofNumber(number);
                    if (type == null) {
                        throw message.error(at, "piece " + id + " has type " + number + "; SentencePiece's types are"
                                + " 1..6 (NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE)");
                    }
                }
                default -> message.skip(ProtobufReader.wireType(tag));
            }
        }
        if (piece == null || piece.isEmpty()) {
            throw message.error(start, "piece " + id + " has " + (piece == null ? "no" : "an empty") + " text");
        }
        pieces.add(piece);
        scores.add(score);
        types.add(type);
    }

    private static void readTrainerSpec(ProtobufReader message, TrainerSpec trainer) {
        while (message.hasMore()) {
            int at = message.position();
            long tag = message.readTag();
            int field = ProtobufReader.fieldNumber(tag);
            switch (field) {
                case 3 -> {
                    requireWireType(message, at, tag, ProtobufReader.VARINT, "trainer_spec.model_type");
                    trainer.modelType = message.readInt32("trainer_spec.model_type");
                }
                case 24 -> trainer.treatWhitespaceAsSuffix = readBool(message, at, tag, "trainer_spec.treat_whitespace_as_suffix");
                case 35 -> trainer.byteFallback = readBool(message, at, tag, "trainer_spec.byte_fallback");
                case 46, 47, 48 -> {
                    String what = "trainer_spec." + (field == 46 ? "bos" : field == 47 ? "eos" : "pad") + "_piece";
                    requireWireType(message, at, tag, ProtobufReader.LENGTH_DELIMITED, what);
                    String piece = message.readString();
                    if (field == 46) trainer.bosPiece = piece;
                    else if (field == 47) trainer.eosPiece = piece;
                    else trainer.padPiece = piece;
                }
                default -> message.skip(ProtobufReader.wireType(tag));
            }
        }
    }

    private static void readNormalizerSpec(ProtobufReader message, NormalizerSpec spec, String what) {
        while (message.hasMore()) {
            int at = message.position();
            long tag = message.readTag();
            switch (ProtobufReader.fieldNumber(tag)) {
                case 1 -> {
                    requireWireType(message, at, tag, ProtobufReader.LENGTH_DELIMITED, what + ".name");
                    spec.name = message.readString();
                }
                case 2 -> {
                    requireWireType(message, at, tag, ProtobufReader.LENGTH_DELIMITED, what + ".precompiled_charsmap");
                    spec.charsmapBytes = message.readSpan()[1];
                }
                case 3 -> spec.addDummyPrefix = readBool(message, at, tag, what + ".add_dummy_prefix");
                case 4 -> spec.removeExtraWhitespaces = readBool(message, at, tag, what + ".remove_extra_whitespaces");
                case 5 -> spec.escapeWhitespaces = readBool(message, at, tag, what + ".escape_whitespaces");
                default -> message.skip(ProtobufReader.wireType(tag));
            }
        }
    }

    private static boolean readBool(ProtobufReader message, int at, long tag, String what) {
        requireWireType(message, at, tag, ProtobufReader.VARINT, what);
        return message.readVarint() != 0;
    }

    private static void requireWireType(ProtobufReader message, int at, long tag, int expected, String what) {
        int wireType = ProtobufReader.wireType(tag);
        if (wireType != expected) {
            throw message.error(at, what + " (field " + ProtobufReader.fieldNumber(tag) + ") has wire type " + wireType
                    + ", expected " + expected + "; is this a SentencePiece tokenizer.model?");
        }
    }

    /** What the tokenizer relies on, and what SentencePiece itself refuses when loading. */
    private static void check(String source, List<String> pieces, List<PieceType> types, TrainerSpec trainer,
                              NormalizerSpec normalizer, NormalizerSpec denormalizer) {
        if (trainer.modelType != BPE) {
            String type = trainer.modelType >= 1 && trainer.modelType < MODEL_TYPES.length
                    ? MODEL_TYPES[trainer.modelType] : "unknown type " + trainer.modelType;
            throw new TokenizerFormatException(source + ": a SentencePiece " + type + " model (trainer_spec.model_type "
                    + trainer.modelType + (trainer.modelType == 1 ? ", as in T5, ALBERT and XLNet" : "") + "); "
                    + SUPPORTED + " only, and no Unigram, WORD or CHAR model");
        }
        if (trainer.treatWhitespaceAsSuffix) {
            throw new TokenizerFormatException(source + ": trainer_spec.treat_whitespace_as_suffix is true; " + SUPPORTED
                    + " that mark a space at the start of a piece, not at its end");
        }
        if (normalizer.charsmapBytes > 0) {
            throw new TokenizerFormatException(source + ": normalizer_spec '" + normalizer.name + "' carries a "
                    + normalizer.charsmapBytes + "-byte character map (Unicode normalization such as NFKC), which"
                    + " promptgrad does not apply; it reads models whose normalizer is 'identity', as Llama 2's,"
                    + " Mistral's and TinyLlama's are");
        }
        if (denormalizer.charsmapBytes > 0) {
            throw new TokenizerFormatException(source + ": denormalizer_spec '" + denormalizer.name + "' carries a "
                    + denormalizer.charsmapBytes + "-byte character map, which promptgrad does not apply when"
                    + " decoding; " + SUPPORTED + " without one");
        }
        Map<String, Integer> idOfPiece = new HashMap<>(pieces.size() * 2);
        int unk = -1, bytePieces = 0;
        for (int id = 0; id < pieces.size(); id++) {
            String piece = pieces.get(id);
            Integer earlier = idOfPiece.putIfAbsent(piece, id);
            if (earlier != null) {
                throw new TokenizerFormatException(source + ": pieces " + earlier + " and " + id + " are both '" + piece
                        + "'; SentencePiece refuses a model that defines a piece twice");
            }
            switch (types.get(id)) {
                case UNKNOWN -> {
                    if (unk >= 0) {
                        throw new TokenizerFormatException(source + ": pieces " + unk + " and " + id + " are both of"
                                + " type UNKNOWN; a SentencePiece model has exactly one");
                    }
                    unk = id;
                }
                case UNUSED -> throw new TokenizerFormatException(source + ": piece " + id + " ('" + piece + "') is of"
                        + " type UNUSED, whose encoding (resegmented into the pieces it merged from) promptgrad does"
                        + " not reproduce");
                case BYTE -> {
                    if (!trainer.byteFallback) {
                        throw new TokenizerFormatException(source + ": piece " + id + " ('" + piece + "') is of type"
                                + " BYTE but trainer_spec.byte_fallback is false; SentencePiece refuses such a model");
                    }
                    int b = TokenDecoder.ByteFallback.byteOfPiece(piece);
                    if (b < 0 || !piece.equals(String.format("<0x%02X>", b))) {
                        throw new TokenizerFormatException(source + ": piece " + id + " ('" + piece + "') is of type"
                                + " BYTE but is not spelled <0xXX> with two upper-case hex digits");
                    }
                    bytePieces++;
                }
                default -> { }
            }
        }
        if (trainer.byteFallback && bytePieces != 256) {
            throw new TokenizerFormatException(source + ": trainer_spec.byte_fallback is true but the model has "
                    + bytePieces + " BYTE pieces, not one for each of the 256 bytes; SentencePiece refuses such a model");
        }
        if (unk < 0) {
            throw new TokenizerFormatException(source + ": no piece has type UNKNOWN (2); every SentencePiece model"
                    + " defines one (usually id 0, '<unk>')");
        }
    }
}
