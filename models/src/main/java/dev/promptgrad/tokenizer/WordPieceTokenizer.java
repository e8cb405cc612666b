package dev.promptgrad.tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * BERT's tokenizer as a Hugging Face {@code tokenizer.json} with a {@code WordPiece} model describes it:
 * {@link BertTextNormalizer} → {@link BertPreTokenizer} → greedy longest-match-first WordPiece (continuations carry
 * the {@code ##} prefix; a word longer than {@code max_input_chars_per_word}, or with a piece the vocabulary lacks,
 * becomes one {@code [UNK]}), and the post-processor's {@code [CLS] … [SEP]} with truncation for the model
 * ({@link #encodeForModel}). Single sequences only, not pairs; added tokens in the text are plain characters
 * (Hugging Face's {@code split_special_tokens=True}).
 */
public final class WordPieceTokenizer implements Tokenizer {
    private final String name;
    private final BertTextNormalizer normalizer;   // null: text goes to the pre-tokenizer unchanged
    private final boolean splitWords;              // BertPreTokenizer; false: the whole normalized text is one word
    private final Map<String, Integer> vocab;
    private final String[] tokens;                 // by id; null where the file defines no id
    private final int unk;
    private final String prefix;                   // "##"
    private final int maxInputCharsPerWord;
    private final int longestPiece;                // code points of the longest vocabulary piece
    private final int[] beforeText, afterText;     // the post-processor's special ids, e.g. [CLS] and [SEP]
    private final OptionalInt maxLength;           // the file's truncation.max_length, special tokens included
    private final boolean truncateLeft;
    private final Decoding decoding;               // null: pieces joined with spaces
    private final Set<Integer> specialTokens;
    private final OptionalInt pad;

    /** The WordPiece decoder: continuation pieces lose their prefix and join the word before; cleanup tidies spaces. */
    record Decoding(String prefix, boolean cleanup) {
    }

    WordPieceTokenizer(String name, BertTextNormalizer normalizer, boolean splitWords, Map<String, Integer> vocab,
                       String[] tokens, int unk, String prefix, int maxInputCharsPerWord, int[] beforeText,
                       int[] afterText, OptionalInt maxLength, boolean truncateLeft, Decoding decoding,
                       Set<Integer> specialTokens, OptionalInt pad) {
        this.name = name;
        this.normalizer = normalizer;
        this.splitWords = splitWords;
        this.vocab = Map.copyOf(vocab);
        this.tokens = tokens.clone();
        this.unk = unk;
        this.prefix = prefix;
        this.maxInputCharsPerWord = maxInputCharsPerWord;
        this.longestPiece = vocab.keySet().stream().mapToInt(p -> p.codePointCount(0, p.length())).max().orElse(0);
        this.beforeText = beforeText.clone();
        this.afterText = afterText.clone();
        this.maxLength = maxLength;
        this.truncateLeft = truncateLeft;
        this.decoding = decoding;
        this.specialTokens = Set.copyOf(specialTokens);
        this.pad = pad;
    }

    /** Reads a {@code tokenizer.json} whose model is WordPiece. */
    public static WordPieceTokenizer load(Path tokenizerJson) {
        return WordPieceJsonReader.read(tokenizerJson);
    }

    /** Reads a WordPiece {@code tokenizer.json} from bytes, e.g. a classpath resource; {@code name} is for messages. */
    public static WordPieceTokenizer read(byte[] tokenizerJson, String name) {
        return WordPieceJsonReader.read(tokenizerJson, name);
    }

    /** The WordPiece ids of {@code text}: no [CLS], no [SEP], no truncation. */
    @Override
    public int[] encode(String text) {
        IntStream.Builder ids = IntStream.builder();
        String normalized = normalizer == null ? text : normalizer.normalize(text);
        if (splitWords) {
            for (String word : BertPreTokenizer.split(normalized)) encodeWord(word, ids);
        } else if (!normalized.isEmpty()) {
            encodeWord(normalized, ids);
        }
        return ids.build().toArray();
    }

    /**
     * What the model is fed, as Hugging Face's {@code encode} gives it: the post-processor's template around the
     * text (usually {@code [CLS] text [SEP]}), the text truncated so that the whole fits the file's
     * {@code truncation.max_length} (no truncation when the file sets none).
     */
    public int[] encodeForModel(String text) {
        return withTemplate(encode(text), maxLength.orElse(Integer.MAX_VALUE));
    }

    /** As {@link #encodeForModel(String)} with at most {@code maxLength} ids in all, special tokens included. */
    public int[] encodeForModel(String text, int maxLength) {
        int specials = beforeText.length + afterText.length;
        if (maxLength < specials) {
            throw new IllegalArgumentException("maxLength " + maxLength + " leaves no room for the " + specials
                    + " special tokens of " + name + "; pass at least " + specials);
        }
        return withTemplate(encode(text), maxLength);
    }

    private int[] withTemplate(int[] text, int maxLength) {
        int room = Math.max(0, maxLength - beforeText.length - afterText.length);
        int kept = Math.min(room, text.length);
        int from = truncateLeft ? text.length - kept : 0;
        int[] out = new int[beforeText.length + kept + afterText.length];
        System.arraycopy(beforeText, 0, out, 0, beforeText.length);
        System.arraycopy(text, from, out, beforeText.length, kept);
        System.arraycopy(afterText, 0, out, beforeText.length + kept, afterText.length);
        return out;
    }

    /**
     * Greedy longest match first over code points; one [UNK] for the whole word when any part has no piece. No
     * candidate is longer than the longest vocabulary piece, which gives the same pieces as trying from the end of
     * the word and keeps a long word linear in its length rather than cubic.
     */
    private void encodeWord(String word, IntStream.Builder ids) {
        int[] codePoints = word.codePoints().toArray();
        if (codePoints.length > maxInputCharsPerWord) {
            ids.add(unk);
            return;
        }
        List<Integer> pieces = new ArrayList<>();
        int start = 0;
        while (start < codePoints.length) {
            int end = (int) Math.min(codePoints.length, (long) start + longestPiece);
            Integer found = null;
            while (start < end) {
                String candidate = new String(codePoints, start, end - start);
                found = vocab.get(start > 0 ? prefix + candidate : candidate);
                if (found != null) break;
                end--;
            }
            if (found == null) {
                ids.add(unk);
                return;
            }
            pieces.add(found);
            start = end;
        }
        pieces.forEach(ids::add);
    }

    /** The text of {@code ids}, through the file's WordPiece decoder (or joined with spaces when it has none). */
    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        StringBuilder text = new StringBuilder();
        int written = 0;
        for (int id : ids) {
            if (skipSpecial && specialTokens.contains(id)) continue;
            String piece = token(id);
            if (decoding == null) {
                if (written > 0) text.append(' ');
                text.append(piece);
            } else {
                if (written > 0) {
                    piece = piece.startsWith(decoding.prefix) ? piece.substring(decoding.prefix.length()) : " " + piece;
                }
                text.append(decoding.cleanup ? cleanup(piece) : piece);
            }
            written++;
        }
        return text.toString();
    }

    /** Hugging Face's decoder cleanup: no space before common punctuation and English contractions. */
    private static String cleanup(String piece) {
        return piece.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't")
                .replace(" 's", "'s").replace(" 've", "'ve").replace(" 're", "'re");
    }

    @Override
    public String token(int id) {
        if (id < 0 || id >= tokens.length || tokens[id] == null) {
            throw new IllegalArgumentException("id " + id + " is not in the vocabulary of " + name
                    + " (ids 0.." + (tokens.length - 1) + ")");
        }
        return tokens[id];
    }

    /** The id of a vocabulary piece (e.g. {@code "##ing"}, {@code "[SEP]"}), if there is one. */
    public OptionalInt idOf(String piece) {
        Integer id = vocab.get(piece);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The file's {@code truncation.max_length}, special tokens included, if it sets one. */
    public OptionalInt maxLength() {
        return maxLength;
    }

    /** The unknown-piece id ({@code [UNK]}). */
    public int unk() {
        return unk;
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    /** The first special id of the template (BERT's {@code [CLS]}), if it has one. */
    @Override
    public OptionalInt bos() {
        return beforeText.length == 0 ? OptionalInt.empty() : OptionalInt.of(beforeText[0]);
    }

    /** The last special id of the template (BERT's {@code [SEP]}), if it has one. */
    @Override
    public OptionalInt eos() {
        return afterText.length == 0 ? OptionalInt.empty() : OptionalInt.of(afterText[afterText.length - 1]);
    }

    /** The file's {@code padding.pad_id}, if it sets padding. */
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
        return "WordPieceTokenizer(" + name + ", " + tokens.length + " ids, template " + Arrays.toString(beforeText)
                + " text " + Arrays.toString(afterText) + ")";
    }
}
