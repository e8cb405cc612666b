package dev.promptgrad.tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Text to token ids and back, for one model's vocabulary. Encoding treats the text as plain data: a special
 * token's text in the input (say {@code "<|endoftext|>"}) is encoded like any other characters, and nothing
 * is added unless asked. Implementations are immutable and safe to share between threads. This is not a
 * chat template, a batch padder or a truncator.
 */
public interface Tokenizer {

    /**
     * Loads the tokenizer at {@code path}: a Hugging Face model folder (see {@link #locate}) or one of its tokenizer
     * files, {@code tokenizer.json} (BPE or WordPiece), a SentencePiece BPE {@code .model} ({@code tokenizer.model})
     * or GPT-2's older {@code vocab.json} / {@code merges.txt} pair, or a llama2.c {@code .bin} tokenizer (vocab size
     * taken from the file).
     */
    static Tokenizer load(Path path) {
        if (Files.isDirectory(path)) {
            Path file = locate(path);
            if (file == null) {
                throw new TokenizerFormatException(path + " is a folder without a tokenizer (tokenizer.json,"
                        + " tokenizer.model, or vocab.json with merges.txt); pass the tokenizer file itself");
            }
            return load(file);
        }
        String fileName = path.getFileName().toString();
        if (fileName.equals("vocab.json")) return VocabMergesReader.read(path);
        if (fileName.equals("merges.txt")) return VocabMergesReader.read(path.resolveSibling("vocab.json"));
        if (fileName.endsWith(".json")) return TokenizerJsonReader.readAny(path);
        if (fileName.endsWith(".bin")) return Llama2cTokenizer.load(path);
        if (fileName.endsWith(".model")) return SentencePieceBpeTokenizer.load(path);
        throw new TokenizerFormatException(path + ": cannot tell the tokenizer format from the name; expected a folder"
                + " with a tokenizer, a .json (Hugging Face), a .model (SentencePiece), vocab.json or merges.txt (GPT-2)"
                + " or a .bin (llama2.c) file");
    }

    /**
     * The tokenizer file of a Hugging Face model folder, as transformers prefers them: {@code tokenizer.json}, else
     * {@code tokenizer.model} (SentencePiece), else {@code vocab.json} when {@code merges.txt} is beside it; null when
     * the folder has none of them.
     */
    static Path locate(Path folder) {
        Path json = folder.resolve("tokenizer.json");
        if (Files.isRegularFile(json)) return json;
        Path sentencePiece = folder.resolve("tokenizer.model");
        if (Files.isRegularFile(sentencePiece)) return sentencePiece;
        Path vocab = folder.resolve("vocab.json");
        if (Files.isRegularFile(vocab) && Files.isRegularFile(folder.resolve("merges.txt"))) return vocab;
        return null;
    }

    /** The ids of {@code text}, with no special tokens added. */
    int[] encode(String text);

    /** The ids of {@code text}, preceded by {@link #bos()} when {@code addBos}; fails if there is no BOS token. */
    default int[] encode(String text, boolean addBos) {
        int[] ids = encode(text);
        if (!addBos) return ids;
        int bos = bos().orElseThrow(() -> new IllegalStateException(
                "tokenizer " + name() + " has no BOS token; encode without one"));
        int[] withBos = new int[ids.length + 1];
        withBos[0] = bos;
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        return withBos;
    }

    /** The text of {@code ids}, special tokens included as their text. */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    /** The text of {@code ids}; when {@code skipSpecial}, the ids in {@link #specialTokens()} are left out. */
    String decode(int[] ids, boolean skipSpecial);

    /** The raw vocabulary piece of {@code id}, as the file stores it (e.g. {@code "Ġworld"}, {@code "▁world"}). */
    String token(int id);

    /** One more than the largest id; every id in [0, vocabSize) that the file defines has a {@link #token}. */
    int vocabSize();

    /** The beginning-of-sequence id, if the tokenizer has one. */
    OptionalInt bos();

    /** The end-of-sequence id, if the tokenizer has one. */
    OptionalInt eos();

    /** The padding id, if the tokenizer has one. */
    OptionalInt pad();

    /** The ids of control tokens (BOS, EOS, UNK, added special tokens) that {@link #decode(int[], boolean)} can skip. */
    Set<Integer> specialTokens();

    /** What this tokenizer was loaded from, for messages (usually the file's path). */
    String name();
}
