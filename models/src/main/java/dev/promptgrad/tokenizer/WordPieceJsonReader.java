package dev.promptgrad.tokenizer;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Builds a {@link WordPieceTokenizer} from a {@code tokenizer.json} whose {@code model.type} is {@code WordPiece}:
 * the BertNormalizer, BertPreTokenizer, TemplateProcessing or BertProcessing post-processor, WordPiece decoder,
 * truncation and padding sections. A component of another type is refused with the file, the key and what is
 * supported, rather than encoded differently from Hugging Face. Reads only.
 */
final class WordPieceJsonReader {
    private static final JsonLimits LIMITS = JsonLimits.upTo(1L << 30);
    private final String file;

    private WordPieceJsonReader(String file) {
        this.file = file;
    }

    static WordPieceTokenizer read(Path tokenizerJson) {
        try {
            return build(tokenizerJson.toString(), Json.parseFile(tokenizerJson, LIMITS));
        } catch (JsonException e) {
            throw new TokenizerFormatException(e.getMessage(), e);
        }
    }

    static WordPieceTokenizer read(byte[] tokenizerJson, String name) {
        try {
            return build(name, Json.parse(tokenizerJson, name, LIMITS));
        } catch (JsonException e) {
            throw new TokenizerFormatException(e.getMessage(), e);
        }
    }

    /** Whether a parsed tokenizer.json has a WordPiece model (so {@link #build} applies to it). */
    static boolean isWordPiece(Object root) {
        return root instanceof Map<?, ?> top && top.get("model") instanceof Map<?, ?> model
                && "WordPiece".equals(model.get("type"));
    }

    /** Builds the tokenizer from the parsed JSON of {@code file}. */
    static WordPieceTokenizer build(String file, Object root) {
        try {
            return new WordPieceJsonReader(file).tokenizer(JsonObject.of(root, file));
        } catch (JsonException e) {
            throw new TokenizerFormatException(e.getMessage(), e);
        }
    }

    private WordPieceTokenizer tokenizer(JsonObject root) {
        JsonObject model = root.requireObject("model");
        if (!"WordPiece".equals(model.requireString("type"))) {
            throw new TokenizerFormatException(file + ": model.type is '" + model.requireString("type")
                    + "', not WordPiece; load it with Tokenizer.load");
        }
        Map<String, Object> vocabJson = model.requireObject("vocab").map();
        List<Object> added = root.optionalArray("added_tokens").orElse(List.of());
        // ids index an array: one past the number of entries is as far as they may reach, so that a tiny file
        // cannot claim an id of two billion and make the reader allocate for it
        long entries = (long) vocabJson.size() + added.size();
        Map<String, Integer> vocab = new HashMap<>();
        int size = 0;
        for (Map.Entry<String, Object> e : vocabJson.entrySet()) {
            if (!(e.getValue() instanceof Long id) || id < 0 || id >= entries) {
                throw new TokenizerFormatException(file + ": model.vocab['" + e.getKey() + "'] is " + e.getValue()
                        + ", expected an integer id from 0 to " + (entries - 1) + " (the file has " + entries
                        + " vocabulary entries and added tokens)");
            }
            vocab.put(e.getKey(), (int) (long) id);
            size = Math.max(size, (int) (long) id + 1);
        }
        Set<Integer> specials = new LinkedHashSet<>();
        Map<Integer, String> addedById = new HashMap<>();
        for (int i = 0; i < added.size(); i++) {
            JsonObject token = JsonObject.of(added.get(i), file, "added_tokens[" + i + "]");
            int id = token.requireInt("id");
            if (id < 0 || id >= entries) {
                throw token.error("id", "is " + id + ", outside 0.." + (entries - 1) + " (the file has " + entries
                        + " vocabulary entries and added tokens)");
            }
            addedById.put(id, token.requireString("content"));
            if (token.booleanOr("special", false)) specials.add(id);
            size = Math.max(size, id + 1);
        }
        String[] tokens = new String[size];
        vocab.forEach((piece, id) -> {
            if (tokens[id] != null) {
                throw new TokenizerFormatException(file + ": model.vocab gives id " + id + " to both '" + tokens[id]
                        + "' and '" + piece + "'");
            }
            tokens[id] = piece;
        });
        addedById.forEach((id, content) -> {
            if (tokens[id] == null) tokens[id] = content;
        });
        String unkToken = model.requireString("unk_token");
        Integer unk = vocab.get(unkToken);
        if (unk == null) {
            throw new TokenizerFormatException(file + ": model.unk_token '" + unkToken + "' is not in model.vocab");
        }
        specials.add(unk);
        int maxChars = model.intOr("max_input_chars_per_word", 100);
        if (maxChars < 1) throw model.error("max_input_chars_per_word", "must be at least 1, but is " + maxChars);

        int[][] template = template(root.get("post_processor"), vocab);
        for (int[] side : template) {
            for (int id : side) {
                requireDefined(tokens, id, "post_processor's special token id");
                specials.add(id);
            }
        }
        Optional<JsonObject> truncation = root.optionalObject("truncation");
        OptionalInt maxLength = truncation.isPresent()
                ? OptionalInt.of(truncation.get().requireInt("max_length")) : OptionalInt.empty();
        if (maxLength.isPresent() && maxLength.getAsInt() < 1) {
            throw truncation.get().error("max_length", "must be at least 1, but is " + maxLength.getAsInt());
        }
        boolean truncateLeft = truncation.isPresent() && direction(truncation.get());
        OptionalInt pad = root.optionalObject("padding").map(p -> OptionalInt.of(p.intOr("pad_id", 0)))
                .orElse(OptionalInt.empty());
        if (pad.isPresent()) requireDefined(tokens, pad.getAsInt(), "padding.pad_id");
        return new WordPieceTokenizer(file, normalizer(root), preTokenizer(root), vocab, tokens, unk,
                model.stringOr("continuing_subword_prefix", "##"), maxChars, template[0], template[1], maxLength,
                truncateLeft, decoding(root), specials, pad);
    }

    /** Refuses an id the vocabulary does not define, which would later index past the embedding table. */
    private void requireDefined(String[] tokens, int id, String what) {
        if (id < 0 || id >= tokens.length || tokens[id] == null) {
            throw new TokenizerFormatException(file + ": " + what + " " + id + " is not an id of model.vocab or"
                    + " added_tokens (ids 0.." + (tokens.length - 1) + ")");
        }
    }

    private BertTextNormalizer normalizer(JsonObject root) {
        Optional<JsonObject> json = root.optionalObject("normalizer");
        if (json.isEmpty()) return null;
        JsonObject n = json.get();
        String type = n.requireString("type");
        if (!"BertNormalizer".equals(type)) throw unsupported("normalizer", type, "BertNormalizer");
        Boolean stripAccents = n.has("strip_accents") ? n.requireBoolean("strip_accents") : null;
        return new BertTextNormalizer(n.booleanOr("clean_text", true), n.booleanOr("handle_chinese_chars", true),
                stripAccents, n.booleanOr("lowercase", true));
    }

    /** True for BertPreTokenizer, false for none (the whole text is one word). */
    private boolean preTokenizer(JsonObject root) {
        Optional<JsonObject> json = root.optionalObject("pre_tokenizer");
        if (json.isEmpty()) return false;
        String type = json.get().requireString("type");
        if (!"BertPreTokenizer".equals(type)) throw unsupported("pre_tokenizer", type, "BertPreTokenizer");
        return true;
    }

    /** The special ids before and after the text: TemplateProcessing's single template, or BertProcessing's cls/sep. */
    private int[][] template(Object value, Map<String, Integer> vocab) {
        if (value == null) return new int[][]{{}, {}};
        JsonObject json = JsonObject.of(value, file, "post_processor");
        String type = json.requireString("type");
        return switch (type) {
            case "BertProcessing" -> new int[][]{{pairId(json, "cls", vocab)}, {pairId(json, "sep", vocab)}};
            case "TemplateProcessing" -> singleTemplate(json);
            default -> throw unsupported("post_processor", type, "TemplateProcessing, BertProcessing");
        };
    }

    /** BertProcessing's ["[CLS]", 101]: the token and its id, which must agree with the vocabulary. */
    private int pairId(JsonObject json, String key, Map<String, Integer> vocab) {
        List<Object> pair = json.requireArray(key);
        if (pair.size() != 2 || !(pair.get(0) instanceof String token) || !(pair.get(1) instanceof Long id)) {
            throw json.error(key, "must be [token, id], but is " + pair);
        }
        if (!Integer.valueOf((int) (long) id).equals(vocab.get(token))) {
            throw json.error(key, "says '" + token + "' is " + id + ", but model.vocab gives " + vocab.get(token));
        }
        return (int) (long) id;
    }

    private int[][] singleTemplate(JsonObject json) {
        List<Object> single = json.requireArray("single");
        JsonObject specials = json.requireObject("special_tokens");
        List<Integer> before = new ArrayList<>();
        List<Integer> after = new ArrayList<>();
        boolean sawSequence = false;
        for (int i = 0; i < single.size(); i++) {
            JsonObject piece = JsonObject.of(single.get(i), file, "post_processor.single[" + i + "]");
            if (piece.has("Sequence")) {
                if (sawSequence) throw json.error("single", "has more than one Sequence");
                sawSequence = true;
            } else if (piece.has("SpecialToken")) {
                String name = piece.requireObject("SpecialToken").requireString("id");
                JsonObject special = specials.optionalObject(name)
                        .orElseThrow(() -> json.error("special_tokens", "has no entry for '" + name + "'"));
                for (int id : special.requireInts("ids")) (sawSequence ? after : before).add(id);
            } else {
                throw json.error("single[" + i + "]", "is neither a Sequence nor a SpecialToken");
            }
        }
        if (!sawSequence) throw json.error("single", "has no Sequence, so the text would be dropped");
        return new int[][]{before.stream().mapToInt(Integer::intValue).toArray(),
                           after.stream().mapToInt(Integer::intValue).toArray()};
    }

    /** True for truncation from the left. */
    private boolean direction(JsonObject truncation) {
        String direction = truncation.stringOr("direction", "Right");
        return switch (direction) {
            case "Right" -> false;
            case "Left" -> true;
            default -> throw truncation.error("direction", "must be Right or Left, but is '" + direction + "'");
        };
    }

    private WordPieceTokenizer.Decoding decoding(JsonObject root) {
        Optional<JsonObject> json = root.optionalObject("decoder");
        if (json.isEmpty()) return null;
        String type = json.get().requireString("type");
        if (!"WordPiece".equals(type)) throw unsupported("decoder", type, "WordPiece");
        return new WordPieceTokenizer.Decoding(json.get().stringOr("prefix", "##"),
                json.get().booleanOr("cleanup", true));
    }

    private TokenizerFormatException unsupported(String where, String type, String supported) {
        return new TokenizerFormatException(file + ": " + where + ".type '" + type + "' is not supported with a"
                + " WordPiece model (supported: " + supported + ")");
    }
}
