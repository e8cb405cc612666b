package dev.promptgrad.tokenizer;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the older GPT-2 tokenizer files, {@code vocab.json} with {@code merges.txt} beside it (what transformers'
 * slow {@code GPT2Tokenizer} loads), as the {@link HuggingFaceTokenizer} that Hugging Face's converter would make
 * of them: byte-level BPE, the ByteLevel pre-tokenizer ({@code add_prefix_space} from tokenizer_config.json, false
 * by default) and decoder, the added tokens of {@code added_tokens_decoder}, and BOS/EOS/PAD from
 * tokenizer_config.json or special_tokens_map.json. Reads only; malformed lines are refused by file and line.
 */
final class VocabMergesReader {
    private static final JsonLimits VOCAB_LIMITS = JsonLimits.upTo(256L << 20);
    private static final JsonLimits CONFIG_LIMITS = JsonLimits.upTo(64L << 20);
    private static final long MAX_MERGES_BYTES = 256L << 20;

    private VocabMergesReader() {
    }

    /** The tokenizer of {@code vocabJson} and the {@code merges.txt} in the same folder. */
    static HuggingFaceTokenizer read(Path vocabJson) {
        Path merges = vocabJson.resolveSibling("merges.txt");
        if (!Files.isRegularFile(merges)) {
            throw new TokenizerFormatException(vocabJson + ": merges.txt is missing beside it; a GPT-2 style vocab.json"
                    + " needs its merges.txt (or give the folder's tokenizer.json instead)");
        }
        Object vocab = parse(vocabJson, VOCAB_LIMITS);
        if (!(vocab instanceof Map<?, ?>)) {
            throw new TokenizerFormatException(vocabJson + ": the top level is not a JSON object of piece → id");
        }
        Map<String, Object> config = settings(vocabJson.resolveSibling("special_tokens_map.json"),
                vocabJson.resolveSibling("tokenizer_config.json"));
        Object prefixSpace = config.getOrDefault("add_prefix_space", false);
        if (!(prefixSpace instanceof Boolean)) {
            throw new TokenizerFormatException(vocabJson.resolveSibling("tokenizer_config.json")
                    + ": add_prefix_space is not true or false");
        }
        // PyTorch (transformers GPT2Converter): BPE(vocab, merges, continuing_subword_prefix="",
        // end_of_word_suffix="", fuse_unk=False); pre_tokenizer = ByteLevel(add_prefix_space); decoder = ByteLevel()
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("vocab", vocab);
        model.put("merges", mergeLines(merges));
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("added_tokens", addedTokens(config.get("added_tokens_decoder"), vocabJson));
        root.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", prefixSpace, "use_regex", true));
        root.put("model", model);
        root.put("decoder", Map.of("type", "ByteLevel"));
        return TokenizerJsonReader.build(vocabJson.toString(), root, config,
                vocabJson.resolveSibling("tokenizer_config.json").toString());
    }

    /** special_tokens_map.json, then tokenizer_config.json over it; either may be missing. */
    private static Map<String, Object> settings(Path specialTokensMap, Path tokenizerConfig) {
        Map<String, Object> merged = new LinkedHashMap<>();
        for (Path file : new Path[]{specialTokensMap, tokenizerConfig}) {
            if (!Files.isRegularFile(file)) continue;
            if (!(parse(file, CONFIG_LIMITS) instanceof Map<?, ?> settings)) {
                throw new TokenizerFormatException(file + ": the top level is not a JSON object");
            }
            settings.forEach((key, value) -> merged.put((String) key, value));
        }
        return merged;
    }

    /** tokenizer_config.json's {@code added_tokens_decoder} ({"id": {content, special, …}}) as added_tokens. */
    private static List<Object> addedTokens(Object decoder, Path vocabJson) {
        List<Object> tokens = new ArrayList<>();
        if (decoder == null) return tokens;
        if (!(decoder instanceof Map<?, ?> byId)) {
            throw new TokenizerFormatException(vocabJson.resolveSibling("tokenizer_config.json")
                    + ": added_tokens_decoder is not a JSON object of id → token");
        }
        for (Map.Entry<?, ?> e : byId.entrySet()) {
            long id;
            try {
                id = Long.parseLong((String) e.getKey());
            } catch (NumberFormatException notAnId) {
                throw new TokenizerFormatException(vocabJson.resolveSibling("tokenizer_config.json")
                        + ": added_tokens_decoder key '" + e.getKey() + "' is not a token id");
            }
            if (!(e.getValue() instanceof Map<?, ?> fields)) {
                throw new TokenizerFormatException(vocabJson.resolveSibling("tokenizer_config.json")
                        + ": added_tokens_decoder['" + e.getKey() + "'] is not a JSON object");
            }
            Map<String, Object> token = new LinkedHashMap<>();
            fields.forEach((key, value) -> token.put((String) key, value));
            token.put("id", id);
            tokens.add(token);
        }
        return tokens;
    }

    /**
     * The merges, one "left right" string per line, without the "#version" header and the empty last line
     * (as the tokenizers library reads merges.txt). Each line must be two pieces separated by one space.
     */
    static List<Object> mergeLines(Path mergesTxt) {
        String text = utf8(mergesTxt);
        List<Object> merges = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].endsWith("\r") ? lines[i].substring(0, lines[i].length() - 1) : lines[i];
            if (i == 0 && line.startsWith("#version")) continue;
            if (line.isEmpty() && i == lines.length - 1) continue;
            int space = line.indexOf(' ');
            if (space <= 0 || space == line.length() - 1 || line.indexOf(' ', space + 1) >= 0) {
                throw new TokenizerFormatException(mergesTxt + ":" + (i + 1) + ": '" + line
                        + "' is not a merge; each line is two pieces separated by one space");
            }
            merges.add(line);
        }
        return merges;
    }

    private static String utf8(Path file) {
        try {
            long size = Files.size(file);
            if (size > MAX_MERGES_BYTES) {
                throw new TokenizerFormatException(file + " is " + size + " bytes; a merges.txt over "
                        + MAX_MERGES_BYTES + " bytes is refused");
            }
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(Files.readAllBytes(file)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new TokenizerFormatException(file + " is not valid UTF-8 text", e);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read " + file, e);
        }
    }

    private static Object parse(Path file, JsonLimits limits) {
        try {
            return Json.parseFile(file, limits);
        } catch (JsonException e) {
            throw new TokenizerFormatException(e.getMessage(), e);
        }
    }
}
