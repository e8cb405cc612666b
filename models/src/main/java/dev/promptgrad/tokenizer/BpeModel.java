package dev.promptgrad.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;

/**
 * Hugging Face's {@code "model": {"type": "BPE"}}: a vocabulary and merges applied by rank (the merge listed
 * first goes first). A word starts as one symbol per character; characters missing from the vocabulary become
 * their UTF-8 bytes as {@code <0xXX>} pieces ({@code byte_fallback}) or the unknown token. Words up to
 * {@value #CACHED_WORD_LENGTH} characters are cached. It does not split text into words: the pre-tokenizer does.
 */
final class BpeModel {
    static final int CACHED_WORD_LENGTH = 64;
    private static final int CACHE_CAPACITY = 1 << 16;

    private final String source;
    private final Map<String, Integer> idOf;
    private final String[] tokenOf;        // (vocabSize) null for ids the vocabulary skips
    private final int[] idOfBmpChar;       // (65536) ids of one-character pieces, -1 if none
    private final int[] idOfByte;          // (256) ids of the <0xXX> pieces, -1 if none
    private final PairTable merges;
    private final int unkId;               // -1 without an unknown token
    private final boolean byteFallback, fuseUnk, ignoreMerges;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param source    the file, for messages
     * @param vocab     piece → id
     * @param merges    pairs of pieces in rank order; each pair's concatenation must be in {@code vocab}
     * @param unkToken  the piece for unknown characters, or null
     */
    BpeModel(String source, Map<String, Integer> vocab, List<String[]> merges, String unkToken,
             boolean byteFallback, boolean fuseUnk, boolean ignoreMerges) {
        this.source = source;
        this.idOf = new HashMap<>(vocab);
        int maxId = -1;
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            if (e.getValue() < 0) {
                throw new TokenizerFormatException(source + ": model.vocab gives '" + e.getKey() + "' the negative id "
                        + e.getValue());
            }
            maxId = Math.max(maxId, e.getValue());
        }
        this.tokenOf = new String[maxId + 1];
        this.idOfBmpChar = new int[65536];
        Arrays.fill(idOfBmpChar, -1);
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            int id = e.getValue();
            if (tokenOf[id] != null) {
                throw new TokenizerFormatException(source + ": model.vocab gives id " + id + " to both '"
                        + tokenOf[id] + "' and '" + e.getKey() + "'");
            }
            tokenOf[id] = e.getKey();
            if (e.getKey().length() == 1) idOfBmpChar[e.getKey().charAt(0)] = id;
        }
        this.idOfByte = new int[256];
        for (int b = 0; b < 256; b++) idOfByte[b] = idOf.getOrDefault(String.format("<0x%02X>", b), -1);
        if (unkToken != null && !idOf.containsKey(unkToken)) {
            throw new TokenizerFormatException(source + ": model.unk_token '" + unkToken + "' is not in model.vocab");
        }
        this.unkId = unkToken == null ? -1 : idOf.get(unkToken);
        this.byteFallback = byteFallback;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
        this.merges = new PairTable(merges.size());
        for (int rank = 0; rank < merges.size(); rank++) {
            String[] pair = merges.get(rank);
            Integer left = idOf.get(pair[0]), right = idOf.get(pair[1]), merged = idOf.get(pair[0] + pair[1]);
            String missing = left == null ? pair[0] : right == null ? pair[1] : merged == null ? pair[0] + pair[1] : null;
            if (missing != null) {
                throw new TokenizerFormatException(source + ": model.merges[" + rank + "] ('" + pair[0] + "', '"
                        + pair[1] + "') needs the piece '" + missing + "', which is not in model.vocab");
            }
            this.merges.put(left, right, MergeQueue.merge(rank, merged));  // a repeated pair keeps its last rank, as in HF
        }
    }

    /** One more than the largest id. */
    int vocabSize() {
        return tokenOf.length;
    }

    /** The piece of {@code id}, or null if the vocabulary has no such id. */
    String tokenOrNull(int id) {
        return id >= 0 && id < tokenOf.length ? tokenOf[id] : null;
    }

    /** The id of {@code piece}, or -1. */
    int idOf(String piece) {
        return idOf.getOrDefault(piece, -1);
    }

    /** Appends the ids of {@code word} (already in the vocabulary's alphabet) to {@code out}. */
    void encodeWord(String word, IntStream.Builder out) {
        if (word.isEmpty()) return;
        if (ignoreMerges) {
            Integer whole = idOf.get(word);
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        boolean cacheable = word.length() <= CACHED_WORD_LENGTH;
        int[] ids = cacheable ? cache.get(word) : null;
        if (ids == null) {
            ids = MergeQueue.mergeAll(initialSymbols(word), merges::get);
            if (cacheable) {
                if (cache.size() >= CACHE_CAPACITY) cache.clear();
                cache.put(word, ids);
            }
        }
        for (int id : ids) out.add(id);
    }

    private int[] initialSymbols(String word) {
        int[] symbols = new int[word.length() * 4];  // at most 4 byte pieces per char
        int count = 0;
        boolean previousUnknown = false;
        for (int i = 0; i < word.length(); ) {
            int codePoint = word.codePointAt(i);
            int width = Character.charCount(codePoint);
            int id = width == 1 ? idOfBmpChar[word.charAt(i)] : idOf.getOrDefault(word.substring(i, i + width), -1);
            i += width;
            if (id >= 0) {
                symbols[count++] = id;
                previousUnknown = false;
                continue;
            }
            if (byteFallback) {
                byte[] bytes = new String(Character.toChars(codePoint)).getBytes(StandardCharsets.UTF_8);
                boolean all = true;
                for (byte b : bytes) all &= idOfByte[b & 0xFF] >= 0;
                if (all) {
                    for (byte b : bytes) symbols[count++] = idOfByte[b & 0xFF];
                    previousUnknown = false;
                    continue;
                }
            }
            if (unkId < 0) {
                throw new IllegalArgumentException(String.format(
                        "character U+%04X is not in the vocabulary of %s, which has no unk_token%s", codePoint, source,
                        byteFallback ? " and lacks <0xXX> byte pieces for it" : " or byte_fallback"));
            }
            if (!(fuseUnk && previousUnknown)) symbols[count++] = unkId;
            previousUnknown = true;
        }
        return Arrays.copyOf(symbols, count);
    }

    /** Open-addressing map from a pair of ids to {@link MergeQueue#merge} of its rank and merged id. */
    private static final class PairTable {
        private final long[] keys;    // (capacity) left << 32 | right, -1 when empty
        private final long[] values;  // (capacity)
        private final int mask;

        PairTable(int entries) {
            int capacity = Integer.highestOneBit(Math.max(4, entries * 2)) * 2;
            keys = new long[capacity];
            values = new long[capacity];
            Arrays.fill(keys, -1L);
            mask = capacity - 1;
        }

        void put(int left, int right, long value) {
            long key = ((long) left << 32) | right;
            int i = slot(key);
            while (keys[i] != -1L && keys[i] != key) i = (i + 1) & mask;
            keys[i] = key;
            values[i] = value;
        }

        long get(int left, int right) {
            long key = ((long) left << 32) | right;
            for (int i = slot(key); ; i = (i + 1) & mask) {
                if (keys[i] == key) return values[i];
                if (keys[i] == -1L) return -1L;
            }
        }

        private int slot(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h >>> 32) & mask;
        }
    }
}
