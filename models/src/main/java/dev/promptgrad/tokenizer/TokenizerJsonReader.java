package dev.promptgrad.tokenizer;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * Builds a {@link HuggingFaceTokenizer} from the parsed JSON of a {@code tokenizer.json} (and optionally its
 * {@code tokenizer_config.json}): maps, lists, strings, longs, doubles, booleans and nulls. Each component's
 * {@code type} must be one promptgrad implements; any other is refused with a message naming the file, the
 * key and the type, rather than encoding differently from Hugging Face. Reads only; never writes.
 */
final class TokenizerJsonReader {
    private static final JsonLimits TOKENIZER_LIMITS = JsonLimits.upTo(1L << 30);
    private static final JsonLimits CONFIG_LIMITS = JsonLimits.upTo(64L << 20);
    private final String file;

    private TokenizerJsonReader(String file) {
        this.file = file;
    }

    /** Reads {@code tokenizerJson}, and {@code tokenizer_config.json} beside it when that exists. */
    static HuggingFaceTokenizer read(Path tokenizerJson) {
        return readBpe(tokenizerJson, parse(tokenizerJson, TOKENIZER_LIMITS));
    }

    /** Reads any tokenizer.json promptgrad implements: a WordPiece model goes to {@link WordPieceTokenizer}, BPE here. */
    static Tokenizer readAny(Path tokenizerJson) {
        Object root = parse(tokenizerJson, TOKENIZER_LIMITS);
        if (WordPieceJsonReader.isWordPiece(root)) return WordPieceJsonReader.build(tokenizerJson.toString(), root);
        return readBpe(tokenizerJson, root);
    }

    private static HuggingFaceTokenizer readBpe(Path tokenizerJson, Object root) {
        Path configFile = tokenizerJson.resolveSibling("tokenizer_config.json");
        Object config = Files.isRegularFile(configFile) ? parse(configFile, CONFIG_LIMITS) : null;
        return build(tokenizerJson.toString(), root, config, configFile.toString());
    }

    private static Object parse(Path file, JsonLimits limits) {
        try {
            return Json.parseFile(file, limits);
        } catch (JsonException e) {
            throw new TokenizerFormatException(e.getMessage(), e);
        }
    }

    /**
     * @param file   the tokenizer.json path, for messages
     * @param root   its parsed content
     * @param config the parsed tokenizer_config.json, or null when there is none
     * @param configFile its path, for messages (ignored when config is null)
     */
    static HuggingFaceTokenizer build(String file, Object root, Object config, String configFile) {
        return new TokenizerJsonReader(file).tokenizer(root, config, configFile);
    }

    private HuggingFaceTokenizer tokenizer(Object rootValue, Object config, String configFile) {
        Map<String, Object> root = object(rootValue, "the top level");
        Map<String, Object> modelJson = object(root.get("model"), "model");
        // ids index arrays: they may reach no further than the number of entries the file has, so that a tiny
        // file cannot claim an id of two billion and make the reader allocate for it
        long entries = (long) (modelJson.get("vocab") instanceof Map<?, ?> v ? v.size() : 0)
                + (root.get("added_tokens") instanceof List<?> a ? a.size() : 0);
        List<AddedToken> added = addedTokens(root.get("added_tokens"), entries);
        BpeModel model = model(modelJson, entries);
        TextNormalizer normalizer = root.get("normalizer") == null ? null : normalizer(root.get("normalizer"), "normalizer");
        PreTokenizer preTokenizer = root.get("pre_tokenizer") == null ? null : preTokenizer(root.get("pre_tokenizer"), "pre_tokenizer");
        TokenDecoder decoder = root.get("decoder") == null ? null : decoder(root.get("decoder"), "decoder");
        // tokenizer_config.json names BOS/EOS/PAD; without it (or where it is silent) the post-processor template may
        OptionalInt[] template = templateBosEos(root.get("post_processor"), model, added);
        OptionalInt bos = configToken(config, "bos_token", configFile, model, added);
        OptionalInt eos = configToken(config, "eos_token", configFile, model, added);
        OptionalInt pad = configToken(config, "pad_token", configFile, model, added);
        return new HuggingFaceTokenizer(file, normalizer, preTokenizer, model, decoder, added,
                bos.isPresent() ? bos : template[0], eos.isPresent() ? eos : template[1], pad);
    }

    private BpeModel model(Map<String, Object> model, long entries) {
        String type = model.get("type") == null ? null : string(model.get("type"), "model.type");
        if (!"BPE".equals(type)) {
            throw new TokenizerFormatException(file + ": model.type is " + (type == null ? "missing" : "'" + type + "'")
                    + "; this reader takes BPE only (WordPiece files load with Tokenizer.load or WordPieceTokenizer.load;"
                    + " Unigram and WordLevel are not supported)");
        }
        for (String affix : new String[]{"continuing_subword_prefix", "end_of_word_suffix"}) {
            Object value = model.get(affix);
            if (value != null && !string(value, "model." + affix).isEmpty()) {
                throw new TokenizerFormatException(file + ": model." + affix + " is '" + value
                        + "'; promptgrad's BPE supports only an empty " + affix);
            }
        }
        Object dropout = model.get("dropout");
        if (dropout != null && number(dropout, "model.dropout") != 0) {
            throw new TokenizerFormatException(file + ": model.dropout is " + dropout
                    + "; BPE dropout makes encoding random, and promptgrad encodes deterministically");
        }
        Map<String, Object> vocabJson = object(model.get("vocab"), "model.vocab");
        Map<String, Integer> vocab = new HashMap<>(vocabJson.size() * 2);
        for (Map.Entry<String, Object> e : vocabJson.entrySet()) {
            vocab.put(e.getKey(), id(e.getValue(), "model.vocab['" + e.getKey() + "']", entries));
        }
        List<Object> mergesJson = list(model.get("merges"), "model.merges");
        List<String[]> merges = new ArrayList<>(mergesJson.size());
        for (int i = 0; i < mergesJson.size(); i++) merges.add(merge(mergesJson.get(i), i));
        String unk = model.get("unk_token") == null ? null : string(model.get("unk_token"), "model.unk_token");
        return new BpeModel(file, vocab, merges, unk, bool(model, "byte_fallback", false, "model"),
                bool(model, "fuse_unk", false, "model"), bool(model, "ignore_merges", false, "model"));
    }

    /** A merge as "left right" (the older format) or ["left", "right"] (the newer one, which allows spaces). */
    private String[] merge(Object value, int index) {
        String where = "model.merges[" + index + "]";
        if (value instanceof String line) {
            String[] parts = line.split(" ", -1);
            if (parts.length != 2) {
                throw new TokenizerFormatException(file + ": " + where + " is '" + line
                        + "'; a merge string is two pieces separated by one space");
            }
            return parts;
        }
        List<Object> pair = list(value, where);
        if (pair.size() != 2) {
            throw new TokenizerFormatException(file + ": " + where + " has " + pair.size() + " elements; a merge is a pair");
        }
        return new String[]{string(pair.get(0), where + "[0]"), string(pair.get(1), where + "[1]")};
    }

    private List<AddedToken> addedTokens(Object value, long idBound) {
        List<AddedToken> tokens = new ArrayList<>();
        if (value == null) return tokens;
        List<Object> entries = list(value, "added_tokens");
        for (int i = 0; i < entries.size(); i++) {
            String where = "added_tokens[" + i + "]";
            Map<String, Object> entry = object(entries.get(i), where);
            tokens.add(new AddedToken(id(entry.get("id"), where + ".id", idBound), string(entry.get("content"), where + ".content"),
                    bool(entry, "special", false, where), bool(entry, "lstrip", false, where),
                    bool(entry, "rstrip", false, where), bool(entry, "single_word", false, where)));
        }
        return tokens;
    }

    private TextNormalizer normalizer(Object value, String where) {
        Map<String, Object> json = object(value, where);
        String type = type(json, where);
        return switch (type) {
            case "Sequence" -> {
                List<Object> steps = list(json.get("normalizers"), where + ".normalizers");
                List<TextNormalizer> built = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) built.add(normalizer(steps.get(i), where + ".normalizers[" + i + "]"));
                yield new TextNormalizer.Sequence(built);
            }
            case "Prepend" -> new TextNormalizer.Prepend(string(json.get("prepend"), where + ".prepend"));
            case "Replace" -> new TextNormalizer.Replace(pattern(json.get("pattern"), where + ".pattern"),
                    string(json.get("content"), where + ".content"));
            case "NFC" -> new TextNormalizer.UnicodeForm(java.text.Normalizer.Form.NFC);
            case "NFD" -> new TextNormalizer.UnicodeForm(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new TextNormalizer.UnicodeForm(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new TextNormalizer.UnicodeForm(java.text.Normalizer.Form.NFKD);
            default -> throw unsupported(where, type, "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD");
        };
    }

    private PreTokenizer preTokenizer(Object value, String where) {
        Map<String, Object> json = object(value, where);
        String type = type(json, where);
        return switch (type) {
            case "Sequence" -> {
                List<Object> steps = list(json.get("pretokenizers"), where + ".pretokenizers");
                List<PreTokenizer> built = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) built.add(preTokenizer(steps.get(i), where + ".pretokenizers[" + i + "]"));
                yield new PreTokenizer.Sequence(built);
            }
            case "ByteLevel" -> new PreTokenizer.ByteLevel(bool(json, "add_prefix_space", true, where),
                    bool(json, "use_regex", true, where));
            case "Split" -> new PreTokenizer.Split(pattern(json.get("pattern"), where + ".pattern"),
                    behavior(string(json.get("behavior"), where + ".behavior"), where + ".behavior"),
                    bool(json, "invert", false, where));
            case "Digits" -> new PreTokenizer.Digits(bool(json, "individual_digits", false, where));
            case "Metaspace" -> new PreTokenizer.Metaspace(replacement(json, where), prependScheme(json, where),
                    bool(json, "split", true, where));
            default -> throw unsupported(where, type, "Sequence, ByteLevel, Split, Digits, Metaspace");
        };
    }

    private TokenDecoder decoder(Object value, String where) {
        Map<String, Object> json = object(value, where);
        String type = type(json, where);
        return switch (type) {
            case "Sequence" -> {
                List<Object> steps = list(json.get("decoders"), where + ".decoders");
                List<TokenDecoder> built = new ArrayList<>();
                for (int i = 0; i < steps.size(); i++) built.add(decoder(steps.get(i), where + ".decoders[" + i + "]"));
                yield new TokenDecoder.Sequence(built);
            }
            case "ByteLevel" -> new TokenDecoder.ByteLevel();
            case "Replace" -> new TokenDecoder.Replace(pattern(json.get("pattern"), where + ".pattern"),
                    string(json.get("content"), where + ".content"));
            case "ByteFallback" -> new TokenDecoder.ByteFallback();
            case "Fuse" -> new TokenDecoder.Fuse();
            case "Strip" -> new TokenDecoder.Strip(singleChar(json.get("content"), where + ".content"),
                    intValue(json.get("start"), where + ".start"), intValue(json.get("stop"), where + ".stop"));
            case "Metaspace" -> new TokenDecoder.Metaspace(replacement(json, where), prependScheme(json, where));
            default -> throw unsupported(where, type, "Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace");
        };
    }

    /** A {"String": literal} or {"Regex": oniguruma} pattern. */
    private Pattern pattern(Object value, String where) {
        Map<String, Object> json = object(value, where);
        if (json.get("String") != null) return Pattern.compile(Pattern.quote(string(json.get("String"), where + ".String")));
        if (json.get("Regex") != null) return PreTokenizer.compile(string(json.get("Regex"), where + ".Regex"), file + ": " + where);
        throw new TokenizerFormatException(file + ": " + where + " has neither a \"String\" nor a \"Regex\" key");
    }

    private PreTokenizer.Behavior behavior(String name, String where) {
        return switch (name) {
            case "Removed" -> PreTokenizer.Behavior.REMOVED;
            case "Isolated" -> PreTokenizer.Behavior.ISOLATED;
            case "MergedWithPrevious" -> PreTokenizer.Behavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> PreTokenizer.Behavior.MERGED_WITH_NEXT;
            case "Contiguous" -> PreTokenizer.Behavior.CONTIGUOUS;
            default -> throw new TokenizerFormatException(file + ": " + where + " is '" + name + "'; expected Removed,"
                    + " Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
        };
    }

    private char replacement(Map<String, Object> json, String where) {
        return singleChar(json.get("replacement"), where + ".replacement");
    }

    /** prepend_scheme, or the older add_prefix_space flag (true meant always). */
    private PreTokenizer.PrependScheme prependScheme(Map<String, Object> json, String where) {
        if (json.get("prepend_scheme") == null) {
            return bool(json, "add_prefix_space", true, where) ? PreTokenizer.PrependScheme.ALWAYS : PreTokenizer.PrependScheme.NEVER;
        }
        String scheme = string(json.get("prepend_scheme"), where + ".prepend_scheme");
        return switch (scheme) {
            case "always" -> PreTokenizer.PrependScheme.ALWAYS;
            case "first" -> PreTokenizer.PrependScheme.FIRST;
            case "never" -> PreTokenizer.PrependScheme.NEVER;
            default -> throw new TokenizerFormatException(file + ": " + where + ".prepend_scheme is '" + scheme
                    + "'; expected always, first or never");
        };
    }

    /** BOS and EOS from a TemplateProcessing post-processor's single-sequence template, when no config names them. */
    private OptionalInt[] templateBosEos(Object value, BpeModel model, List<AddedToken> added) {
        OptionalInt[] none = {OptionalInt.empty(), OptionalInt.empty()};
        if (!(value instanceof Map<?, ?> json) || !"TemplateProcessing".equals(json.get("type"))) return none;
        if (!(json.get("single") instanceof List<?> single) || single.isEmpty()) return none;
        return new OptionalInt[]{templateSpecial(single.get(0), model, added),
                                 single.size() > 1 ? templateSpecial(single.get(single.size() - 1), model, added) : OptionalInt.empty()};
    }

    private OptionalInt templateSpecial(Object piece, BpeModel model, List<AddedToken> added) {
        if (!(piece instanceof Map<?, ?> element) || !(element.get("SpecialToken") instanceof Map<?, ?> special)) {
            return OptionalInt.empty();
        }
        return special.get("id") instanceof String name ? idOf(name, model, added) : OptionalInt.empty();
    }

    /** A bos/eos/pad entry of tokenizer_config.json (null when there is no config): a string, {"content": string}, or null. */
    private OptionalInt configToken(Object configValue, String key, String configFile, BpeModel model, List<AddedToken> added) {
        if (configValue == null) return OptionalInt.empty();
        if (!(configValue instanceof Map<?, ?> config)) {
            throw new TokenizerFormatException(configFile + ": the top level is not a JSON object");
        }
        Object value = config.get(key);
        if (value instanceof Map<?, ?> entry) value = entry.get("content");
        if (value == null) return OptionalInt.empty();
        if (!(value instanceof String content)) {
            throw new TokenizerFormatException(configFile + ": " + key + " is neither a string nor {\"content\": string}");
        }
        OptionalInt id = idOf(content, model, added);
        if (id.isEmpty()) {
            throw new TokenizerFormatException(configFile + ": " + key + " '" + content + "' is neither an added token"
                    + " nor in model.vocab of " + file);
        }
        return id;
    }

    private static OptionalInt idOf(String content, BpeModel model, List<AddedToken> added) {
        for (AddedToken token : added) if (token.content().equals(content)) return OptionalInt.of(token.id());
        int id = model.idOf(content);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    private TokenizerFormatException unsupported(String where, String type, String supported) {
        return new TokenizerFormatException(file + ": " + where + ".type '" + type + "' is not supported by promptgrad"
                + " (supported: " + supported + ")");
    }

    private String type(Map<String, Object> json, String where) {
        return string(json.get("type"), where + ".type");
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> object(Object value, String where) {
        if (value instanceof Map<?, ?> map) return (Map<String, Object>) map;
        throw new TokenizerFormatException(file + ": " + where + " is " + describe(value) + ", expected a JSON object");
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object value, String where) {
        if (value instanceof List<?> items) return (List<Object>) items;
        throw new TokenizerFormatException(file + ": " + where + " is " + describe(value) + ", expected a JSON array");
    }

    private String string(Object value, String where) {
        if (value instanceof String s) return s;
        throw new TokenizerFormatException(file + ": " + where + " is " + describe(value) + ", expected a string");
    }

    private char singleChar(Object value, String where) {
        String s = string(value, where);
        if (s.length() != 1) {
            throw new TokenizerFormatException(file + ": " + where + " is '" + s + "', expected one character");
        }
        return s.charAt(0);
    }

    private double number(Object value, String where) {
        if (value instanceof Number n) return n.doubleValue();
        throw new TokenizerFormatException(file + ": " + where + " is " + describe(value) + ", expected a number");
    }

    private int intValue(Object value, String where) {
        if (value instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return (int) (long) l;
        throw new TokenizerFormatException(file + ": " + where + " is " + describe(value) + ", expected an integer");
    }

    /** A token id: an integer from 0 to {@code bound} − 1, where the bound is the file's count of entries. */
    private int id(Object value, String where, long bound) {
        int id = intValue(value, where);
        if (id < 0 || id >= bound) {
            throw new TokenizerFormatException(file + ": " + where + " is " + id + ", outside 0.." + (bound - 1)
                    + " (the file has " + bound + " vocabulary entries and added tokens)");
        }
        return id;
    }

    private boolean bool(Map<String, Object> json, String key, boolean absent, String where) {
        Object value = json.get(key);
        if (value == null) return absent;
        if (value instanceof Boolean b) return b;
        throw new TokenizerFormatException(file + ": " + where + "." + key + " is " + describe(value) + ", expected true or false");
    }

    private static String describe(Object value) {
        if (value == null) return "missing or null";
        if (value instanceof String s) return "the string '" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "'";
        if (value instanceof Map) return "an object";
        if (value instanceof List) return "an array";
        return value.toString();
    }
}
