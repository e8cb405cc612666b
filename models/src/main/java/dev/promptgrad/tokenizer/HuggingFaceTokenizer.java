package dev.promptgrad.tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * A Hugging Face {@code tokenizer.json} BPE tokenizer: normalizer → pre-tokenizer → BPE model, and a decoder
 * back. Covers byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM) and SentencePiece-style BPE with byte fallback
 * (Llama 2, TinyLlama). {@link #encode(String)} treats the text as plain data; {@link #encodeMatchingAddedTokens}
 * first cuts out the {@code added_tokens} found literally in the text, as HF's {@code encode} does. Post-processor
 * templates are not applied: BOS is added on request only. Not WordPiece or Unigram.
 */
public final class HuggingFaceTokenizer implements Tokenizer {
    private final String name;
    private final TextNormalizer normalizer;      // null: text goes to the pre-tokenizer unchanged
    private final PreTokenizer preTokenizer;      // null: the normalized text is one word
    private final BpeModel model;
    private final TokenDecoder decoder;           // null: pieces joined with spaces, as HF does without a decoder
    private final Map<Integer, AddedToken> addedById;
    private final Map<Character, List<AddedToken>> addedByFirstChar;  // longest first
    private final int vocabSize;
    private final OptionalInt bos, eos, pad;
    private final Set<Integer> specialTokens;

    HuggingFaceTokenizer(String name, TextNormalizer normalizer, PreTokenizer preTokenizer, BpeModel model,
                         TokenDecoder decoder, List<AddedToken> addedTokens, OptionalInt bos, OptionalInt eos,
                         OptionalInt pad) {
        this.name = name;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.model = model;
        this.decoder = decoder;
        this.addedById = new HashMap<>();
        this.addedByFirstChar = new HashMap<>();
        int size = model.vocabSize();
        Set<Integer> special = new LinkedHashSet<>();
        for (AddedToken token : addedTokens) {
            if (token.content().isEmpty()) {
                throw new TokenizerFormatException(name + ": added token " + token.id() + " has empty content");
            }
            addedById.put(token.id(), token);
            addedByFirstChar.computeIfAbsent(token.content().charAt(0), c -> new ArrayList<>()).add(token);
            size = Math.max(size, token.id() + 1);
            if (token.special()) special.add(token.id());
        }
        addedByFirstChar.values().forEach(list -> list.sort(Comparator.comparingInt((AddedToken t) -> -t.content().length())));
        this.vocabSize = size;
        this.bos = bos;
        this.eos = eos;
        this.pad = pad;
        bos.ifPresent(special::add);
        eos.ifPresent(special::add);
        pad.ifPresent(special::add);
        this.specialTokens = Collections.unmodifiableSet(special);
    }

    /** Reads {@code tokenizer.json}, and {@code tokenizer_config.json} beside it if present, for BOS/EOS/PAD. */
    public static HuggingFaceTokenizer load(Path tokenizerJson) {
        return TokenizerJsonReader.read(tokenizerJson);
    }

    @Override
    public int[] encode(String text) {
        IntStream.Builder ids = IntStream.builder();
        encodePlain(text, true, ids);
        return ids.build().toArray();
    }

    /**
     * Like HF's {@code encode}: every {@code added_tokens} content found in {@code text} (leftmost, then longest)
     * becomes its id, honouring lstrip/rstrip/single_word; the text between is encoded as plain text.
     * Added tokens are matched in the raw text, before normalization.
     */
    public int[] encodeMatchingAddedTokens(String text, boolean addBos) {
        IntStream.Builder ids = IntStream.builder();
        if (addBos) ids.add(bos.orElseThrow(() -> new IllegalStateException("tokenizer " + name + " has no BOS token")));
        int plainStart = 0;
        int i = 0;
        while (i < text.length()) {
            AddedToken match = matchAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            int start = i, end = i + match.content().length();
            if (match.lstrip()) while (start > plainStart && isWhiteSpace(text.charAt(start - 1))) start--;
            if (match.rstrip()) while (end < text.length() && isWhiteSpace(text.charAt(end))) end++;
            encodePlain(text.substring(plainStart, start), plainStart == 0, ids);
            ids.add(match.id());
            plainStart = end;
            i = end;
        }
        encodePlain(text.substring(plainStart), plainStart == 0, ids);
        return ids.build().toArray();
    }

    private AddedToken matchAt(String text, int i) {
        List<AddedToken> candidates = addedByFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (AddedToken token : candidates) {
            String content = token.content();
            if (!text.startsWith(content, i)) continue;
            if (token.singleWord()) {
                int end = i + content.length();
                boolean wordBefore = i > 0 && isWordChar(text.charAt(i - 1));
                boolean wordAfter = end < text.length() && isWordChar(text.charAt(end));
                if (wordBefore || wordAfter) continue;
            }
            return token;
        }
        return null;
    }

    /** Unicode's White_Space property, as Rust's {@code char::is_whitespace}. */
    private static boolean isWhiteSpace(char c) {
        return Character.isSpaceChar(c) || (c >= '\t' && c <= '\r') || c == '\u0085';
    }

    private static boolean isWordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }

    /** @throws TokenizerFormatException naming the file when one of its regexes goes over its {@link MatchBudget} */
    private void encodePlain(String text, boolean atTextStart, IntStream.Builder ids) {
        if (text.isEmpty()) return;
        try {
            String normalized = normalizer == null ? text : normalizer.normalize(text);
            if (preTokenizer == null) {
                model.encodeWord(normalized, ids);
            } else {
                preTokenizer.split(normalized, atTextStart, (piece, start) -> model.encodeWord(piece, ids));
            }
        } catch (MatchBudget.Exceeded e) {
            throw new TokenizerFormatException(name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        List<String> pieces = new ArrayList<>(ids.length);
        for (int id : ids) {
            if (skipSpecial && specialTokens.contains(id)) continue;
            pieces.add(token(id));
        }
        try {
            return decoder == null ? String.join(" ", pieces) : decoder.decodeToText(pieces);
        } catch (MatchBudget.Exceeded e) {
            throw new TokenizerFormatException(name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String token(int id) {
        AddedToken added = addedById.get(id);
        if (added != null) return added.content();
        String piece = model.tokenOrNull(id);
        if (piece == null) {
            throw new IllegalArgumentException("id " + id + " is not in the vocabulary of " + name
                    + " (ids 0.." + (vocabSize - 1) + ")");
        }
        return piece;
    }

    /** The id of a vocabulary piece or added token's content, if there is one. */
    public OptionalInt idOf(String piece) {
        for (AddedToken token : addedById.values()) if (token.content().equals(piece)) return OptionalInt.of(token.id());
        int id = model.idOf(piece);
        return id < 0 ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public OptionalInt bos() {
        return bos;
    }

    @Override
    public OptionalInt eos() {
        return eos;
    }

    @Override
    public OptionalInt pad() {
        return pad;
    }

    @Override
    public Set<Integer> specialTokens() {
        return specialTokens;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "HuggingFaceTokenizer(" + name + ", " + vocabSize + " ids)";
    }
}
