package dev.promptgrad.train;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.CharTokenizer;
import dev.promptgrad.data.Example;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.AdapterFormatException;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.prompt.PromptInit;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.Messages;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Each way a trained prompt starts, on gpt2-tiny's embedding table: sample-vocab and random as PromptInit draws
 * them with the run's seed, PEFT's TEXT (special tokens, repeated to N rows), Lester's class labels (averaged
 * label embeddings, then sampled rows), and an adapter's prompt, which must be finite and of the right size.
 */
class InitialPromptTest {
    private Backend backend;
    private LanguageModel model;

    @TempDir
    Path folder;

    @BeforeEach
    void open() {
        backend = new ReferenceBackend();
        model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend);
    }

    @AfterEach
    void close() {
        model.close();
        backend.close();
    }

    private float[] row(int id) {
        return backend.download(model.embeddingTable().select(id));
    }

    private float[] start(TrainingConfig.Init init, int rows, TrainingData data) {
        TrainingConfig config = TrainingConfig.builder("gpt2-tiny").virtualTokens(rows).init(init).seed(9)
                .tokenizer("chars").build();
        BosEosRule bos = new BosEosRule(OptionalInt.of(CharTokenizer.BOS), OptionalInt.empty());
        PromptInit.Initial initial = InitialPrompt.of(config, model, new CharTokenizer(), bos, data);
        assertEquals(rows, initial.tokens());
        assertEquals(16, initial.width());
        return initial.values();
    }

    private static TrainingData data(Example... examples) {
        return TrainingData.of(List.of(examples), List.of());
    }

    @Test
    void sampleVocabCopiesRowsOfIdsDrawnWithTheSeed() {
        float[] values = start(TrainingConfig.Init.parse("sample-vocab"), 3, data(Example.everyToken(new int[] {4})));
        Random random = new Random(9);
        for (int r = 0; r < 3; r++) {
            float[] expected = row(random.nextInt(61));
            for (int d = 0; d < 16; d++) assertEquals(expected[d], values[r * 16 + d], "row " + r);
        }
    }

    @Test
    void textIsPeftsTextInitWithSpecialTokensRepeated() {
        float[] values = start(TrainingConfig.Init.parse("text:ab"), 5, data(Example.everyToken(new int[] {4})));
        // tokenizer("ab") = [BOS, a, b], repeated and cut to 5
        int[] ids = {CharTokenizer.BOS, 4, 5, CharTokenizer.BOS, 4};
        for (int r = 0; r < 5; r++) {
            float[] expected = row(ids[r]);
            for (int d = 0; d < 16; d++) assertEquals(expected[d], values[r * 16 + d], "row " + r);
        }
        float[] cut = start(TrainingConfig.Init.parse("text:abc"), 2, data(Example.everyToken(new int[] {4})));
        assertArrayEquals(concat(row(CharTokenizer.BOS), row(4)), cut, "a longer text is cut to N rows");
    }

    @Test
    void labelsAverageEachLabelsEmbeddingsThenSample() {
        TrainingData data = data(
                new Example(new int[] {4, 5, 10, 2}, new int[] {-100, -100, 10, 2}),
                new Example(new int[] {4, 6, 20, 21, 2}, new int[] {-100, -100, 20, 21, 2}),
                new Example(new int[] {7, 10, 2}, new int[] {-100, 10, 2}));
        float[] values = start(TrainingConfig.Init.parse("labels"), 4, data);
        float[] ten = row(10), twenty = row(20), twentyOne = row(21);
        Random random = new Random(9);
        float[] third = row(random.nextInt(61)), fourth = row(random.nextInt(61));
        for (int d = 0; d < 16; d++) {
            assertEquals(ten[d], values[d], "label 'ten' alone");
            assertEquals((float) (((double) twenty[d] + twentyOne[d]) / 2), values[16 + d],
                    "label 'twenty twenty-one' averaged");
            assertEquals(third[d], values[32 + d], "then sampled rows");
            assertEquals(fourth[d], values[48 + d]);
        }
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> start(TrainingConfig.Init.parse("labels"), 1, data)), "2 distinct labels", "1 rows");
    }

    @Test
    void adapterStartCopiesItsPromptAndRefusesNaN() throws IOException {
        Path adapter = Fixtures.folder("gpt2-tiny").resolve("adapter");
        assertArrayEquals(PeftAdapter.read(adapter).embeddings(),
                start(TrainingConfig.Init.adapter(adapter), 5, data(Example.everyToken(new int[] {4}))));
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> start(TrainingConfig.Init.adapter(adapter), 4, data(Example.everyToken(new int[] {4})))),
                "holds 5 virtual tokens", "--virtual-tokens 5");
        Path broken = Files.createDirectories(folder.resolve("broken"));
        Files.copy(adapter.resolve(PeftAdapter.CONFIG_FILE), broken.resolve(PeftAdapter.CONFIG_FILE));
        float[] values = PeftAdapter.read(adapter).embeddings();
        values[21] = Float.NaN;
        new SafetensorsWriter().metadata("format", "pt").add("prompt_embeddings", values, 5, 16)
                .write(broken.resolve(PeftAdapter.WEIGHTS_FILE));
        Messages.assertMentions(assertThrows(AdapterFormatException.class,
                () -> start(TrainingConfig.Init.adapter(broken), 5, data(Example.everyToken(new int[] {4})))),
                broken.resolve(PeftAdapter.WEIGHTS_FILE).toString(), "prompt_embeddings[1, 5] is NaN");
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
