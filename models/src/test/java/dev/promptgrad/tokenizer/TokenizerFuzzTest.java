package dev.promptgrad.tokenizer;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.testing.HostileInput;

import java.nio.file.Path;

/**
 * Fuzz targets for tokenizer files: a tokenizer.json (BPE or WordPiece), a llama2.c tokenizer.bin and a SentencePiece
 * tokenizer.model either load, encode two texts and decode the ids back, or fail with a TokenizerFormatException (or, for a character the
 * vocabulary cannot encode, an IllegalArgumentException) naming the file. The regexes a tokenizer.json brings run
 * within MatchBudget, so a hostile pattern ends in an error, not a hang. Seeds: tools/fuzz_seeds.py.
 */
class TokenizerFuzzTest {
    private static final Path JSON = HostileInput.workFolder("tokenizer-json").resolve("tokenizer.json");
    private static final Path BIN = HostileInput.workFolder("tokenizer-bin").resolve("tokenizer.bin");
    private static final Path MODEL = HostileInput.workFolder("tokenizer-model").resolve("tokenizer.model");
    private static final String[] TEXTS = {"hello world 12", "Héllo  wörld! 😀 1234\n\t<s>"};

    @FuzzTest(maxDuration = "5m")
    void tokenizerJson(byte[] input) {
        HostileInput.write(JSON, input);
        HostileInput.expectOnly(() -> roundTrip(Tokenizer.load(JSON)), JSON, TokenizerFormatException.class,
                IllegalArgumentException.class);
    }

    @FuzzTest(maxDuration = "5m")
    void tokenizerBin(byte[] input) {
        HostileInput.write(BIN, input);
        HostileInput.expectOnly(() -> roundTrip(Tokenizer.load(BIN)), BIN, TokenizerFormatException.class);
    }

    @FuzzTest(maxDuration = "5m")
    void tokenizerModel(byte[] input) {
        HostileInput.write(MODEL, input);
        HostileInput.expectOnly(() -> roundTrip(Tokenizer.load(MODEL)), MODEL, TokenizerFormatException.class);
    }

    private static void roundTrip(Tokenizer tokenizer) {
        for (String text : TEXTS) {
            int[] ids = tokenizer.encode(text);
            tokenizer.decode(ids);
            tokenizer.decode(ids, true);
            if (tokenizer instanceof WordPieceTokenizer wordPiece) tokenizer.decode(wordPiece.encodeForModel(text));
        }
    }
}
