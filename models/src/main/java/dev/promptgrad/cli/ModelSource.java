package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.checkpoint.Llama2cCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.WeightStorage;
import dev.promptgrad.tokenizer.Llama2cTokenizer;
import dev.promptgrad.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.IntStream;

/**
 * What {@code --model PATH} and {@code --tokenizer FILE} name, opened: a Hugging Face folder (its tokenizer, found
 * by {@link Tokenizer#locate}, is used unless {@code --tokenizer} says otherwise) or a llama2.c {@code .bin}
 * checkpoint (which has no tokenizer of its own). Owns the model; closing it frees the weights.
 *
 * @param tokenizer null when there is none: only token ids can then be used
 */
record ModelSource(Path path, LanguageModel model, Tokenizer tokenizer, BosEosRule bosEos) implements AutoCloseable {

    /** llama2.c's BOS, fixed by its format. */
    private static final int LLAMA2C_BOS = 1;

    /**
     * Opens the model at {@code modelPath} on {@code backend}, with the tokenizer at {@code tokenizerPath} (null:
     * the folder's own, if any).
     */
    static ModelSource open(Path modelPath, Path tokenizerPath, Backend backend) {
        return open(modelPath, tokenizerPath, backend, WeightStorage.F32);
    }

    /** As {@link #open(Path, Path, Backend)}, the model's weight matrices stored as {@code storage} says. */
    static ModelSource open(Path modelPath, Path tokenizerPath, Backend backend, WeightStorage storage) {
        boolean folder = Files.isDirectory(modelPath);
        if (!folder && !Files.isRegularFile(modelPath)) {
            throw new IllegalArgumentException("--model " + modelPath + " does not exist; give a Hugging Face model folder"
                    + " or a llama2.c .bin checkpoint");
        }
        if (!folder && !modelPath.getFileName().toString().endsWith(".bin")) {
            throw new IllegalArgumentException("--model " + modelPath + " is neither a folder nor a .bin file; give a"
                    + " Hugging Face model folder (holding config.json) or a llama2.c .bin checkpoint");
        }
        if (tokenizerPath != null && !Files.exists(tokenizerPath)) {
            throw new IllegalArgumentException("--tokenizer " + tokenizerPath + " does not exist");
        }
        LanguageModel model = folder ? HuggingFaceCheckpoint.load(modelPath, backend, storage)
                : Llama2cCheckpoint.load(modelPath, backend, storage);
        try {
            Path tokenizerSource = tokenizerPath;
            if (tokenizerSource == null && folder) tokenizerSource = Tokenizer.locate(modelPath);
            if (tokenizerSource == null) return new ModelSource(modelPath, model, null, BosEosRule.NONE);
            Tokenizer tokenizer = tokenizerSource.getFileName().toString().endsWith(".bin")
                    ? Llama2cTokenizer.load(tokenizerSource, model.vocabSize())
                    : Tokenizer.load(tokenizerSource);
            if (tokenizer.vocabSize() > model.vocabSize()) {
                throw new IllegalArgumentException((tokenizerPath == null ? "the model folder's tokenizer " : "--tokenizer ")
                        + tokenizerSource + " has " + tokenizer.vocabSize() + " ids, more than the " + model.vocabSize()
                        + " rows of the model's embeddings, so it belongs to another model; pass the model's own"
                        + " tokenizer");
            }
            return new ModelSource(modelPath, model, tokenizer, BosEosRule.of(tokenizerSource, tokenizer));
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * The tokenizer, or a failure explaining that {@code what} (e.g. "--text") needs one and how to give one.
     */
    Tokenizer requireTokenizer(String what) {
        if (tokenizer != null) return tokenizer;
        if (Files.isDirectory(path)) {
            throw new IllegalArgumentException(what + " needs a tokenizer, and the model folder " + path + " has none"
                    + " (no tokenizer.json, no vocab.json with merges.txt); pass --tokenizer FILE or use token ids");
        }
        throw new IllegalArgumentException(what + " needs a tokenizer, and " + path + " is a llama2.c checkpoint, which has"
                + " none of its own; pass --tokenizer tokenizer.bin or use token ids");
    }

    /**
     * The ids that end generation: the tokenizer's EOS, and for a llama2.c checkpoint also BOS (id 1), which
     * run.c stops at because it delimits the stories the model was trained on.
     */
    int[] stopTokens() {
        boolean llama2c = !Files.isDirectory(path);
        return IntStream.concat(llama2c ? IntStream.of(LLAMA2C_BOS) : IntStream.empty(),
                tokenizer != null && tokenizer.eos().isPresent() ? IntStream.of(tokenizer.eos().getAsInt()) : IntStream.empty())
                .distinct().toArray();
    }

    @Override
    public void close() {
        model.close();
    }
}
