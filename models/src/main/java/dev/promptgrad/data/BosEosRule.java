package dev.promptgrad.data;

import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.json.JsonObject;
import dev.promptgrad.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Which special ids a tokenizer puts around one encoded text, as its own files say: llama2.c's
 * {@code tokenizer.bin} starts every sequence with BOS (run.c, and llama2.c's pretokenized training data) and
 * adds no EOS; a Hugging Face {@code tokenizer.json} adds what its post-processor template adds (a special token
 * first is a BOS, one last an EOS; Llama 2: {@code <s> $A}; GPT-2: nothing; GPT-2's {@code vocab.json} and
 * {@code merges.txt}: nothing; a SentencePiece {@code tokenizer.model}: BOS, as transformers' LlamaTokenizer), and
 * {@code add_bos_token} /
 * {@code add_eos_token} in {@code tokenizer_config.json} beside it override that, as transformers' Llama
 * tokenizers do. It is not a chat template.
 *
 * @param bos the id put before the text, if any
 * @param eos the id put after the text, if any
 */
public record BosEosRule(OptionalInt bos, OptionalInt eos) {

    /** Adds nothing. */
    public static final BosEosRule NONE = new BosEosRule(OptionalInt.empty(), OptionalInt.empty());

    private static final JsonLimits TOKENIZER_JSON = JsonLimits.upTo(512L << 20);

    /**
     * The rule of the tokenizer loaded from {@code tokenizerPath} (a {@code .bin} file, a {@code tokenizer.json},
     * {@code tokenizer.model}, {@code vocab.json} or {@code merges.txt}, or a folder holding them).
     */
    public static BosEosRule of(Path tokenizerPath, Tokenizer tokenizer) {
        Path file = Files.isDirectory(tokenizerPath) ? Tokenizer.locate(tokenizerPath) : tokenizerPath;
        if (file == null) throw new IllegalArgumentException(tokenizerPath + " holds no tokenizer file");
        String name = file.getFileName().toString();
        boolean vocabMerges = name.equals("vocab.json") || name.equals("merges.txt");
        boolean sentencePiece = name.endsWith(".model");
        if (!vocabMerges && !sentencePiece && !name.endsWith(".json")) {
            return new BosEosRule(tokenizer.bos(), OptionalInt.empty());   // llama2.c
        }
        // GPT-2's slow tokenizer adds nothing, Llama's SentencePiece one BOS, unless tokenizer_config.json says otherwise
        BosEosRule rule = vocabMerges ? NONE
                : sentencePiece ? new BosEosRule(tokenizer.bos(), OptionalInt.empty())
                : fromTemplate(Json.parseObjectFile(file, TOKENIZER_JSON).get("post_processor"));
        Path config = file.resolveSibling("tokenizer_config.json");
        if (!Files.isRegularFile(config)) return rule;
        JsonObject settings = Json.parseObjectFile(config, TOKENIZER_JSON);
        OptionalInt bos = rule.bos, eos = rule.eos;
        if (settings.has("add_bos_token")) {
            bos = settings.requireBoolean("add_bos_token") ? required(tokenizer.bos(), "BOS", "add_bos_token", config) : OptionalInt.empty();
        }
        if (settings.has("add_eos_token")) {
            eos = settings.requireBoolean("add_eos_token") ? required(tokenizer.eos(), "EOS", "add_eos_token", config) : OptionalInt.empty();
        }
        return new BosEosRule(bos, eos);
    }

    /** {@code ids} with this rule's BOS before and EOS after. */
    public int[] wrap(int[] ids) {
        int front = bos.isPresent() ? 1 : 0;
        int[] wrapped = new int[front + ids.length + (eos.isPresent() ? 1 : 0)];
        bos.ifPresent(id -> wrapped[0] = id);
        System.arraycopy(ids, 0, wrapped, front, ids.length);
        eos.ifPresent(id -> wrapped[wrapped.length - 1] = id);
        return wrapped;
    }

    /** {@code ids} with this rule's BOS before (and no EOS): the start of a longer sequence. */
    public int[] start(int[] ids) {
        return new BosEosRule(bos, OptionalInt.empty()).wrap(ids);
    }

    private static OptionalInt required(OptionalInt id, String what, String key, Path config) {
        if (id.isEmpty()) {
            throw new IllegalArgumentException(config + ": " + key + " is true, but the tokenizer has no " + what
                    + " token; set " + key + " to false or give the tokenizer a " + what + " token");
        }
        return id;
    }

    /** A TemplateProcessing (alone or inside a Sequence) post-processor's single-sequence template. */
    private static BosEosRule fromTemplate(Object postProcessor) {
        if (!(postProcessor instanceof Map<?, ?> processor)) return NONE;
        if ("Sequence".equals(processor.get("type")) && processor.get("processors") instanceof List<?> parts) {
            for (Object part : parts) {
                BosEosRule rule = fromTemplate(part);
                if (!rule.equals(NONE)) return rule;
            }
            return NONE;
        }
        if (!"TemplateProcessing".equals(processor.get("type")) || !(processor.get("single") instanceof List<?> single)
                || single.isEmpty()) {
            return NONE;
        }
        Map<?, ?> specialIds = processor.get("special_tokens") instanceof Map<?, ?> m ? m : Map.of();
        OptionalInt bos = specialId(single.get(0), specialIds);
        OptionalInt eos = single.size() > 1 ? specialId(single.get(single.size() - 1), specialIds) : OptionalInt.empty();
        return new BosEosRule(bos, eos);
    }

    /** The id of a template piece {"SpecialToken": {"id": NAME}}, looked up in the template's special_tokens. */
    private static OptionalInt specialId(Object piece, Map<?, ?> specialIds) {
        if (!(piece instanceof Map<?, ?> element) || !(element.get("SpecialToken") instanceof Map<?, ?> special)) {
            return OptionalInt.empty();
        }
        if (!(specialIds.get(special.get("id")) instanceof Map<?, ?> entry) || !(entry.get("ids") instanceof List<?> ids)
                || ids.size() != 1 || !(ids.get(0) instanceof Long id)) {
            return OptionalInt.empty();
        }
        return OptionalInt.of(Math.toIntExact(id));
    }
}
