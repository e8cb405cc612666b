package dev.promptgrad.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeSet;

/**
 * karpathy's llama2.c {@code tokenizer.bin}: a SentencePiece BPE vocabulary with one score per piece, "▁" already
 * turned into a space. Layout (little-endian): int32 max_token_length, then per id float32 score, int32 byte
 * length, the piece's UTF-8 bytes. Encoding is run.c's {@code encode} (and SentencePiece's): a dummy space in
 * front, one symbol per character (unknown characters as their {@code <0xXX>} byte pieces), then repeatedly merge
 * the adjacent pair whose concatenation is the piece with the highest score. Ids 0, 1, 2 are UNK, BOS, EOS.
 */
public final class Llama2cTokenizer implements Tokenizer {
    private static final int UNK = 0, BOS = 1, EOS = 2;
    /** The largest file read: real ones are a few megabytes (Llama 2's is 424 KiB). */
    static final long MAX_FILE_BYTES = 256L << 20;

    private final String name;
    private final String[] pieces;                 // (vocabSize)
    private final float[] scores;                  // (vocabSize)
    private final int maxTokenLength;              // in bytes, from the header
    private final Map<String, Integer> mergeable;  // text piece → id; no control or byte pieces
    private final int[] priority;                  // (vocabSize) rank of the piece's score, 0 = highest
    private final int[] idOfByte;                  // (256) id of <0xXX>, -1 if missing
    private final boolean[] isBytePiece;           // (vocabSize)
    private final Set<Integer> specialTokens = Set.of(UNK, BOS, EOS);

    private Llama2cTokenizer(String name, String[] pieces, float[] scores, int maxTokenLength) {
        this.name = name;
        this.pieces = pieces;
        this.scores = scores;
        this.maxTokenLength = maxTokenLength;
        int n = pieces.length;
        this.idOfByte = new int[256];
        Arrays.fill(idOfByte, -1);
        this.isBytePiece = new boolean[n];
        this.mergeable = new HashMap<>(n * 2);
        TreeSet<Float> distinctScores = new TreeSet<>();
        for (int id = 0; id < n; id++) {
            int b = TokenDecoder.ByteFallback.byteOfPiece(pieces[id]);
            if (b >= 0 && id > EOS) {
                isBytePiece[id] = true;
                if (idOfByte[b] < 0) idOfByte[b] = id;
            } else if (id > EOS) {
                mergeable.putIfAbsent(pieces[id], id);
                distinctScores.add(scores[id]);
            }
        }
        List<Float> descending = new ArrayList<>(distinctScores.descendingSet());
        Map<Float, Integer> rankOfScore = new HashMap<>();
        for (int r = 0; r < descending.size(); r++) rankOfScore.put(descending.get(r), r);
        this.priority = new int[n];
        for (int id = 0; id < n; id++) priority[id] = rankOfScore.getOrDefault(scores[id], Integer.MAX_VALUE);
    }

    /** Reads {@code file}, taking entries until the end of the file. */
    public static Llama2cTokenizer load(Path file) {
        return read(file, -1);
    }

    /** Reads exactly {@code vocabSize} entries from {@code file} (the model's vocab_size); extra bytes are an error. */
    public static Llama2cTokenizer load(Path file, int vocabSize) {
        if (vocabSize < 3) throw new IllegalArgumentException("vocabSize " + vocabSize + " for " + file + " must be at least 3 (UNK, BOS, EOS)");
        return read(file, vocabSize);
    }

    private static Llama2cTokenizer read(Path file, int vocabSize) {
        byte[] bytes;
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new TokenizerFormatException(file + ": " + size + " bytes is more than the " + MAX_FILE_BYTES
                        + " a llama2.c tokenizer is read up to; is it a tokenizer.bin?");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read llama2.c tokenizer " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 4) {
            throw new TokenizerFormatException(file + ": " + bytes.length + " bytes is too short for a llama2.c tokenizer"
                    + " (it starts with an int32 max_token_length)");
        }
        int maxTokenLength = in.getInt();
        if (maxTokenLength <= 0) {
            throw new TokenizerFormatException(file + ": max_token_length at offset 0 is " + maxTokenLength
                    + "; a llama2.c tokenizer.bin starts with a positive int32");
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        var utf8 = StandardCharsets.UTF_8.newDecoder();
        while (vocabSize < 0 ? in.hasRemaining() : pieces.size() < vocabSize) {
            int id = pieces.size(), offset = in.position();
            if (in.remaining() < 8) {
                throw new TokenizerFormatException(file + ": truncated at offset " + offset + ": the entry for id " + id
                        + " needs 8 bytes (float32 score, int32 length) but " + in.remaining() + " remain"
                        + (vocabSize < 0 ? "" : " (expected " + vocabSize + " entries)"));
            }
            float score = in.getFloat();
            int length = in.getInt();
            if (Float.isNaN(score) || Float.isInfinite(score)) {
                throw new TokenizerFormatException(file + ": id " + id + " at offset " + offset + " has score " + score);
            }
            if (length < 0 || length > maxTokenLength) {
                throw new TokenizerFormatException(file + ": id " + id + " at offset " + (offset + 4) + " has byte length "
                        + length + ", outside 0.." + maxTokenLength + " (max_token_length)");
            }
            if (in.remaining() < length) {
                throw new TokenizerFormatException(file + ": truncated at offset " + (offset + 8) + ": id " + id
                        + " needs " + length + " bytes but " + in.remaining() + " remain");
            }
            ByteBuffer piece = in.slice().limit(length);
            in.position(in.position() + length);
            try {
                pieces.add(utf8.decode(piece).toString());
            } catch (CharacterCodingException e) {
                throw new TokenizerFormatException(file + ": id " + id + " at offset " + (offset + 8)
                        + " is not valid UTF-8", e);
            }
            scores.add(score);
        }
        if (in.hasRemaining()) {
            throw new TokenizerFormatException(file + ": " + in.remaining() + " bytes left at offset " + in.position()
                    + " after " + vocabSize + " entries; the tokenizer has more pieces than the model's vocab_size");
        }
        if (pieces.size() < 3) {
            throw new TokenizerFormatException(file + ": " + pieces.size() + " entries; a llama2.c tokenizer needs at least"
                    + " ids 0..2 (UNK, BOS, EOS)");
        }
        float[] scoreArray = new float[scores.size()];
        for (int i = 0; i < scoreArray.length; i++) scoreArray[i] = scores.get(i);
        return new Llama2cTokenizer(file.toString(), pieces.toArray(String[]::new), scoreArray, maxTokenLength);
    }

    /**
     * SentencePiece's encoding of {@code text}: "▁" in the text counts as a space, as it does in SentencePiece.
     */
    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) return new int[0];
        String spaced = " " + text.replace('\u2581', ' ');  // run.c: the dummy prefix " "
        int[] symbols = new int[spaced.length() * 4];       // at most 4 byte pieces per char
        int count = 0;
        for (int i = 0; i < spaced.length(); ) {
            int width = Character.charCount(spaced.codePointAt(i));
            String character = spaced.substring(i, i + width);
            i += width;
            Integer id = mergeable.get(character);
            if (id != null) {
                symbols[count++] = id;
                continue;
            }
            for (byte b : character.getBytes(StandardCharsets.UTF_8)) {  // run.c: byte fallback
                int byteId = idOfByte[b & 0xFF];
                symbols[count++] = byteId >= 0 ? byteId : UNK;
            }
        }
        return MergeQueue.mergeAll(Arrays.copyOf(symbols, count), this::mergeOf);
    }

    /** run.c: the pair merges if pieces[left] + pieces[right] is a piece; the best score goes first. */
    private long mergeOf(int left, int right) {
        if (left <= EOS || right <= EOS || isBytePiece[left] || isBytePiece[right]) return -1;
        Integer merged = mergeable.get(pieces[left] + pieces[right]);
        return merged == null ? -1 : MergeQueue.merge(priority[merged], merged);
    }

    /**
     * The text of {@code ids}: byte pieces become bytes (a run that is not UTF-8 becomes one U+FFFD per byte, as in
     * Hugging Face's ByteFallback), and the dummy-prefix space of the first text piece is dropped, as in run.c and
     * SentencePiece. Special pieces appear as stored (llama2.c's export writes BOS as {@code "\n<s>\n"}).
     */
    @Override
    public String decode(int[] ids, boolean skipSpecial) {
        List<String> texts = new ArrayList<>(ids.length);
        boolean leadingSpecialsOnly = true;
        for (int id : ids) {
            String piece = token(id);
            boolean special = specialTokens.contains(id);
            if (special && skipSpecial) continue;
            if (!special && leadingSpecialsOnly && piece.startsWith(" ")) piece = piece.substring(1);
            if (!special) leadingSpecialsOnly = false;
            texts.add(piece);
        }
        return String.join("", new TokenDecoder.ByteFallback().decode(texts));
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

    /** The header's max_token_length, in bytes. */
    public int maxTokenLength() {
        return maxTokenLength;
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public OptionalInt bos() {
        return OptionalInt.of(BOS);
    }

    @Override
    public OptionalInt eos() {
        return OptionalInt.of(EOS);
    }

    @Override
    public OptionalInt pad() {
        return OptionalInt.empty();
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
        return "Llama2cTokenizer(" + name + ", " + pieces.length + " ids)";
    }
}
