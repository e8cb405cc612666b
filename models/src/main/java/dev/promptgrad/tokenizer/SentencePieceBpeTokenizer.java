package dev.promptgrad.tokenizer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A SentencePiece BPE model from its {@code tokenizer.model} (Llama 2, Mistral, TinyLlama), encoding and decoding as
 * SentencePiece's own processor does for a model whose normalizer has no character map (Llama 2's "identity").
 * Read by {@link SentencePieceModelReader}. Not for Unigram, WORD or CHAR models, and no sampling (BPE-dropout).
 *
 * <p>Encoding: whitespace handling (dummy prefix, extra-space removal, spaces to "▁"); one symbol per character,
 * except that a user-defined piece, matched longest first, is one symbol that never merges; then repeatedly merge
 * the adjacent pair whose concatenation is a piece with the highest score (the leftmost pair on ties); a symbol that
 * is no piece becomes the {@code <0xXX>} pieces of its UTF-8 bytes with byte fallback, else UNK (a run of unknown
 * characters is one UNK). {@link Llama2cTokenizer} runs the same merges, but turns unknown characters into bytes
 * before merging and has none of the model's options; the results agree on Llama 2's vocabulary.
 */
public final class SentencePieceBpeTokenizer implements Tokenizer {
    private static final char SPACE_SYMBOL = '\u2581';  // "▁"

    /** SentencePiece's {@code SentencePiece.Type}, by its number in the file. */
    enum PieceType {
        NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE;

        /** The type numbered {@code number} (1..6) in sentencepiece_model.proto, or null. */
        static PieceType ofNumber(int number) {
            return number >= 1 && number <= 6 ? values()[number - 1] : null;
        }
    }

    /** The NormalizerSpec flags that apply when there is no character map. */
    record Whitespace(boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces) {
    }

    private final String name;
    private final String[] pieces;                // (vocabSize) as stored, "▁" for a space
    private final float[] scores;                 // (vocabSize)
    private final PieceType[] types;              // (vocabSize)
    private final Whitespace whitespace;
    private final boolean byteFallback;
    private final int unk;
    private final OptionalInt bos, eos, pad;
    private final Map<String, Integer> mergeable; // NORMAL and USER_DEFINED pieces: what merges can produce
    private final int[] priority;                 // (vocabSize) rank of a mergeable piece's score, 0 = highest
    private final int[] idOfByte;                 // (256) id of <0xXX>; UNK without byte fallback
    private final String[] userDefined;           // (userDefinedCount) texts of the USER_DEFINED pieces, sorted
    private final int[] userDefinedIds;           // (userDefinedCount) their ids, in the same order
    private final Set<Integer> specialTokens;

    /**
     * A tokenizer over pieces the reader has checked: non-empty, distinct, exactly one UNKNOWN, no UNUSED, and with
     * byte fallback the 256 BYTE pieces {@code <0x00>..<0xFF>} (without it, none). BOS, EOS and PAD are the CONTROL
     * pieces named {@code bosPiece}, {@code eosPiece}, {@code padPiece}, as SentencePiece finds them; absent if none.
     */
    SentencePieceBpeTokenizer(String name, String[] pieces, float[] scores, PieceType[] types, Whitespace whitespace,
                              boolean byteFallback, String bosPiece, String eosPiece, String padPiece) {
        this.name = name;
        this.pieces = pieces;
        this.scores = scores;
        this.types = types;
        this.whitespace = whitespace;
        this.byteFallback = byteFallback;
        int n = pieces.length;
        Map<String, Integer> idOfPiece = new HashMap<>(n * 2);
        this.mergeable = new HashMap<>(n * 2);
        int unkId = -1, userDefinedCount = 0;
        Set<Integer> special = new HashSet<>();
        for (int id = 0; id < n; id++) {
            idOfPiece.put(pieces[id], id);
            switch (types[id]) {
                case NORMAL -> mergeable.put(pieces[id], id);
                case USER_DEFINED -> {
                    mergeable.put(pieces[id], id);
                    userDefinedCount++;
                }
                case UNKNOWN -> {
                    unkId = id;
                    special.add(id);
                }
                case CONTROL -> special.add(id);
                default -> { }
            }
        }
        this.unk = unkId;
        this.bos = controlPiece(idOfPiece, bosPiece);
        this.eos = controlPiece(idOfPiece, eosPiece);
        this.pad = controlPiece(idOfPiece, padPiece);
        this.specialTokens = Set.copyOf(special);

        this.idOfByte = new int[256];
        Arrays.fill(idOfByte, unk);
        for (int id = 0; id < n; id++) {
            if (types[id] == PieceType.BYTE) idOfByte[TokenDecoder.ByteFallback.byteOfPiece(pieces[id])] = id;
        }

        // SentencePiece compares scores as floats: -0.0 equals 0.0, so both get one rank
        float[] sorted = new float[mergeable.size()];
        int k = 0;
        for (int id : mergeable.values()) sorted[k++] = scores[id] + 0.0f;
        Arrays.sort(sorted);
        int distinct = 0;
        for (float score : sorted) if (distinct == 0 || sorted[distinct - 1] != score) sorted[distinct++] = score;
        float[] ascending = Arrays.copyOf(sorted, distinct);
        this.priority = new int[n];
        Arrays.fill(priority, Integer.MAX_VALUE);
        for (int id : mergeable.values()) priority[id] = distinct - 1 - Arrays.binarySearch(ascending, scores[id] + 0.0f);

        Integer[] order = new Integer[userDefinedCount];
        k = 0;
        for (int id = 0; id < n; id++) if (types[id] == PieceType.USER_DEFINED) order[k++] = id;
        Arrays.sort(order, (a, b) -> pieces[a].compareTo(pieces[b]));
        this.userDefined = new String[userDefinedCount];
        this.userDefinedIds = new int[userDefinedCount];
        for (int i = 0; i < userDefinedCount; i++) {
            userDefined[i] = pieces[order[i]];
            userDefinedIds[i] = order[i];
        }
    }

    private OptionalInt controlPiece(Map<String, Integer> idOfPiece, String piece) {
        Integer id = idOfPiece.get(piece);
        return id != null && types[id] == PieceType.CONTROL ? OptionalInt.of(id) : OptionalInt.empty();
    }

    /** Reads a SentencePiece {@code tokenizer.model}; see {@link SentencePieceModelReader} for what is refused. */
    public static SentencePieceBpeTokenizer load(Path file) {
        return SentencePieceModelReader.read(file);
    }

    /** SentencePiece's ids for {@code text}: "▁" in the text is a space, as in SentencePiece. */
    @Override
    public int[] encode(String text) {
        String normalized = normalize(text);
        if (normalized.isEmpty()) return new int[0];
        int n = pieces.length;
        // symbol ids: a piece id below n; n + id for a frozen user-defined piece; 2n + code point for an unknown character
        int[] symbols = new int[normalized.length()];
        int count = 0;
        for (int i = 0; i < normalized.length(); ) {
            int userId = longestUserDefined(normalized, i);
            if (userId >= 0) {
                symbols[count++] = n + userId;
                i += pieces[userId].length();
                continue;
            }
            int codePoint = normalized.codePointAt(i);
            int width = Character.charCount(codePoint);
            Integer id = mergeable.get(normalized.substring(i, i + width));
            symbols[count++] = id != null ? id : 2 * n + codePoint;
            i += width;
        }
        int[] merged = MergeQueue.mergeAll(Arrays.copyOf(symbols, count), this::mergeOf);
        int[] ids = new int[merged.length * 4];  // an unknown character is at most 4 byte pieces
        int size = 0;
        boolean afterUnk = false;
        for (int symbol : merged) {
            if (symbol < 2 * n) {
                ids[size++] = symbol < n ? symbol : symbol - n;
                afterUnk = false;
            } else if (byteFallback) {
                for (byte b : new String(Character.toChars(symbol - 2 * n)).getBytes(StandardCharsets.UTF_8)) {
                    ids[size++] = idOfByte[b & 0xFF];
                }
                afterUnk = false;
            } else {
                if (!afterUnk) ids[size++] = unk;  // SentencePiece: a run of unknown characters is one UNK
                afterUnk = true;
            }
        }
        return Arrays.copyOf(ids, size);
    }

    /**
     * SentencePiece's normalizer without a character map: with remove_extra_whitespaces, leading and trailing spaces
     * go and runs of spaces become one; add_dummy_prefix puts a space in front of non-empty text; with
     * escape_whitespaces every space is "▁". A lone surrogate (ill-formed UTF-8 to SentencePiece) becomes U+FFFD.
     */
    private String normalize(String text) {
        boolean collapse = whitespace.removeExtraWhitespaces();
        int start = 0;
        if (collapse) while (start < text.length() && text.charAt(start) == ' ') start++;
        if (start == text.length()) return "";
        char space = whitespace.escapeWhitespaces() ? SPACE_SYMBOL : ' ';
        StringBuilder out = new StringBuilder(text.length() - start + 1);
        if (whitespace.addDummyPrefix()) out.append(space);
        boolean afterSpace = false;
        for (int i = start; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ' ') {
                if (!(collapse && afterSpace)) out.append(space);
                afterSpace = true;
                continue;
            }
            afterSpace = false;
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                out.append(c).append(text.charAt(++i));
            } else {
                out.append(Character.isSurrogate(c) ? '\uFFFD' : c);
            }
        }
        if (collapse) {
            int end = out.length();
            while (end > 0 && out.charAt(end - 1) == space) end--;
            out.setLength(end);
        }
        return out.toString();
    }

    /** The id of the longest user-defined piece that {@code text} has at {@code from}, or -1. */
    private int longestUserDefined(String text, int from) {
        int lo = 0, hi = userDefined.length, found = -1;
        // invariant: userDefined[lo, hi) are the pieces that start with text[from, from + depth)
        for (int depth = 0; lo < hi && from + depth < text.length(); depth++) {
            if (userDefined[lo].length() == depth) lo++;  // the one piece equal to the prefix sorts first
            char c = text.charAt(from + depth);
            int end = firstAtLeast(lo, hi, depth, c + 1);
            lo = firstAtLeast(lo, end, depth, c);
            hi = end;
            if (lo < hi && userDefined[lo].length() == depth + 1) found = userDefinedIds[lo];
        }
        return found;
    }

    /** The first index in [lo, hi) whose char at {@code depth} is at least {@code bound}; all are longer than depth. */
    private int firstAtLeast(int lo, int hi, int depth, int bound) {
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (userDefined[mid].charAt(depth) < bound) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /** bpe_model.cc: the pair merges if its concatenation is a piece; frozen user-defined symbols never merge. */
    private long mergeOf(int left, int right) {
        int n = pieces.length;
        if ((left >= n && left < 2 * n) || (right >= n && right < 2 * n)) return -1;
        Integer merged = mergeable.get(textOf(left) + textOf(right));
        return merged == null ? -1 : MergeQueue.merge(priority[merged], merged);
    }

    private String textOf(int symbol) {
        return symbol < pieces.length ? pieces[symbol] : new String(Character.toChars(symbol - 2 * pieces.length));
    }

    /**
     * The text of {@code ids}, as SentencePiece decodes them: "▁" becomes a space, and the first text piece loses one
     * leading "▁" (the dummy prefix; every leading one with remove_extra_whitespaces); runs of byte pieces become
     * their UTF-8 characters, each byte that starts no well-formed character becoming U+FFFD. Control and UNK pieces
     * appear as their piece text (SentencePiece shows nothing and " ⁇ ") unless {@code skipSpecial} leaves them out.
     */
    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        StringBuilder text = new StringBuilder();
        byte[] run = new byte[ids.length];  // pending byte pieces
        int runLength = 0;
        boolean visible = false;            // SentencePiece's decoded text is non-empty (control pieces add nothing)
        boolean atStart = true;             // no text piece has been decoded yet
        boolean strippedPrefix = false;     // the last text piece gave up its dummy-prefix "▁"
        boolean stripLeading = whitespace.addDummyPrefix() || whitespace.removeExtraWhitespaces();
        for (int id : ids) {
            token(id);
            PieceType type = types[id];
            if (type == PieceType.BYTE) {
                run[runLength++] = (byte) TokenDecoder.ByteFallback.byteOfPiece(pieces[id]);
                continue;
            }
            if (runLength > 0) {
                appendUtf8(run, runLength, text);
                runLength = 0;
                visible = true;
            }
            if (strippedPrefix || visible) atStart = false;
            strippedPrefix = false;
            if (type == PieceType.CONTROL || type == PieceType.UNKNOWN) {
                if (!skipSpecial) text.append(pieces[id]);
                if (type == PieceType.UNKNOWN) visible = true;
                continue;
            }
            String piece = pieces[id];
            if (atStart && stripLeading && piece.charAt(0) == SPACE_SYMBOL) {
                piece = piece.substring(1);
                strippedPrefix = !whitespace.removeExtraWhitespaces();
            }
            text.append(piece.replace(SPACE_SYMBOL, ' '));
            if (!piece.isEmpty()) visible = true;
        }
        appendUtf8(run, runLength, text);
        return text.toString();
    }

    /** {@code bytes[0, length)} as SentencePiece decodes byte pieces: well-formed characters, else U+FFFD per byte. */
    private static void appendUtf8(byte[] bytes, int length, StringBuilder out) {
        for (int i = 0; i < length; ) {
            int width = wellFormedLength(bytes, i, length);
            if (width == 0) {
                out.append('\uFFFD');
                i++;
            } else {
                out.append(new String(bytes, i, width, StandardCharsets.UTF_8));
                i += width;
            }
        }
    }

    /** The length of the well-formed UTF-8 character at {@code bytes[i]} (Unicode table 3-7), or 0. */
    private static int wellFormedLength(byte[] bytes, int i, int length) {
        int lead = bytes[i] & 0xFF;
        if (lead < 0x80) return 1;
        int width, secondLow = 0x80, secondHigh = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            width = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            width = 3;
            if (lead == 0xE0) secondLow = 0xA0;
            if (lead == 0xED) secondHigh = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            width = 4;
            if (lead == 0xF0) secondLow = 0x90;
            if (lead == 0xF4) secondHigh = 0x8F;
        } else {
            return 0;
        }
        if (i + width > length) return 0;
        for (int k = 1; k < width; k++) {
            int b = bytes[i + k] & 0xFF;
            if (b < (k == 1 ? secondLow : 0x80) || b > (k == 1 ? secondHigh : 0xBF)) return 0;
        }
        return width;
    }

    @Override
    public String token(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("id " + id + " is not in the vocabulary of " + name
                    + " (ids 0.." + (pieces.length - 1) + ")");
        }
        return pieces[id];
    }

    /** The score of {@code id}'s piece (higher merges first). */
    public float score(int id) {
        token(id);
        return scores[id];
    }

    /** The id of the UNKNOWN piece, which every SentencePiece model has. */
    public int unk() {
        return unk;
    }

    /** Whether characters without a piece become byte pieces (trainer_spec.byte_fallback). */
    public boolean byteFallback() {
        return byteFallback;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
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
        return "SentencePieceBpeTokenizer(" + name + ", " + pieces.length + " ids)";
    }
}
