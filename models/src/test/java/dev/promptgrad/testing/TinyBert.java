package dev.promptgrad.testing;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.encoder.BertModel;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.tokenizer.WordPieceTokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Test support: the random 2-layer BERT of tools/bert_fixtures.py (vocab 50, hidden 16, 24 positions) with a
 * WordPiece tokenizer of 50 whole words written here, so that texts made of {@link #WORDS} become ids the tiny model
 * embeds; as an {@link Encoder}, or as a model folder with tokenizer.json for the command line. Test code only.
 */
public final class TinyBert {
    /** Ids 4 … 49, in order; 0 … 3 are [PAD], [UNK], [CLS], [SEP]. */
    public static final List<String> WORDS = List.of("the", "a", "ball", "goal", "team", "match", "score", "coach",
            "bread", "oven", "soup", "salt", "bake", "pan", "sugar", "phone", "code", "app", "screen", "data", "laptop",
            "wifi", "doctor", "sleep", "fever", "pain", "nurse", "flight", "train", "hotel", "beach", "passport", "map",
            "sports", "cooking", "tech", "health", "travel", "is", "was", "good", "bad", "new", "old", "we", "they");

    private TinyBert() {
    }

    /** The tokenizer.json text: BertNormalizer, BertPreTokenizer, [CLS] text [SEP]. */
    public static String tokenizerJson() {
        StringBuilder vocab = new StringBuilder("\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3");
        for (int i = 0; i < WORDS.size(); i++) vocab.append(", \"").append(WORDS.get(i)).append("\": ").append(i + 4);
        return "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {" + vocab + "}},"
                + " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true},"
                + " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
                + " \"post_processor\": {\"type\": \"BertProcessing\","
                + " \"cls\": [\"[CLS]\", 2], \"sep\": [\"[SEP]\", 3]},"
                + " \"padding\": {\"pad_id\": 0}}";
    }

    /** The tiny BERT on {@code backend}, with the tokenizer; the caller closes it. */
    public static Encoder open(Backend backend) {
        WordPieceTokenizer tokenizer = WordPieceTokenizer.read(tokenizerJson().getBytes(StandardCharsets.UTF_8),
                "tiny words");
        return new Encoder(BertModel.load(Fixtures.folder("bert-tiny"), backend, null), tokenizer);
    }

    /** A copy of the fixture's sentence-transformers folder in {@code parent}/tiny-bert, with tokenizer.json. */
    public static Path folder(Path parent) {
        Path source = Fixtures.folder("bert-tiny");
        Path target = parent.resolve("tiny-bert");
        try (Stream<Path> files = Files.walk(source)) {
            for (Path file : files.toList()) {
                Path copy = target.resolve(source.relativize(file).toString());
                if (Files.isDirectory(file)) {
                    Files.createDirectories(copy);
                } else {
                    Files.copy(file, copy);
                }
            }
            Files.writeString(target.resolve("tokenizer.json"), tokenizerJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return target;
    }
}
