package dev.promptgrad.embedding;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.encoder.BertModel;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.tokenizer.WordPieceTokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Test support: the random 2-layer BERT of tools/bert_fixtures.py (vocab 50, hidden 16, 24 positions) with a
 * WordPiece tokenizer of 50 whole words written here, so that texts made of {@link #WORDS} become ids the tiny model
 * embeds. Test code only.
 */
final class TinyEncoder {
    /** Ids 4 … 49, in order. */
    static final List<String> WORDS = List.of("the", "a", "ball", "goal", "team", "match", "score", "coach", "bread",
            "oven", "soup", "salt", "bake", "pan", "sugar", "phone", "code", "app", "screen", "data", "laptop", "wifi",
            "doctor", "sleep", "fever", "pain", "nurse", "flight", "train", "hotel", "beach", "passport", "map", "sports",
            "cooking", "tech", "health", "travel", "is", "was", "good", "bad", "new", "old", "we", "they");

    private TinyEncoder() {
    }

    static Encoder open(Backend backend) {
        StringBuilder vocab = new StringBuilder("\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3");
        for (int i = 0; i < WORDS.size(); i++) vocab.append(", \"").append(WORDS.get(i)).append("\": ").append(i + 4);
        String json = "{\"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\", \"vocab\": {" + vocab + "}},"
                + " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": true},"
                + " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
                + " \"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"[CLS]\", 2], \"sep\": [\"[SEP]\", 3]},"
                + " \"padding\": {\"pad_id\": 0}}";
        WordPieceTokenizer tokenizer = WordPieceTokenizer.read(json.getBytes(StandardCharsets.UTF_8), "tiny words");
        return new Encoder(BertModel.load(Fixtures.folder("bert-tiny"), backend, null), tokenizer);
    }
}
