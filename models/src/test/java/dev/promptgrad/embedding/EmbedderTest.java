package dev.promptgrad.embedding;

import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.prompt.PeftAdapter;
import dev.promptgrad.testing.TinyBert;
import dev.promptgrad.train.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The few-line embedding API as README.md shows it ({@code Embedder.open(model, adapterFolder).embed(texts)}) on the
 * tiny BERT folder: batches of more than one forward pass, a single text, the prompt's effect, the default placement
 * of a bare PEFT adapter, and cosine similarity.
 */
class EmbedderTest {
    @TempDir
    Path folder;

    @Test
    void openEmbedAndCompare() {
        Path model = TinyBert.folder(folder);
        Random random = new Random(11);
        float[] prompt = new float[2 * 16];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (float) random.nextGaussian();
        Path adapterFolder = folder.resolve("adapter");
        PeftAdapter.write(adapterFolder, prompt, 2, 16, new PeftAdapter.TuningConfig("tiny", 2, 4, "RANDOM", null, null,
                PeftAdapter.FEATURE_EXTRACTION));
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 40; i++) texts.add(TinyBert.WORDS.get(i) + " the " + TinyBert.WORDS.get(45 - i));

        float[][] prompted, plain;
        try (Embedder embedder = Embedder.open(model.toString(), adapterFolder)) {
            assertEquals(16, embedder.dimension());
            assertEquals(2, embedder.promptRows());
            assertEquals(TrainingConfig.Objective.DEFAULT_PLACEMENT, embedder.placement(),
                    "a bare PEFT adapter does not say where its prompt went");
            prompted = embedder.embed(texts);
            assertArrayEquals(prompted[33], embedder.embed(texts.get(33)), "a text alone embeds as in a batch");
        }
        try (Embedder embedder = Embedder.open(model.toString())) {
            plain = embedder.embed(texts);
        }
        try (CpuBackend backend = new CpuBackend(); Encoder encoder = TinyBert.open(backend);
             Embedder reference = new Embedder(encoder, PeftAdapter.read(adapterFolder), PromptPlacement.BEFORE_CLS)) {
            float[][] expected = reference.embed(texts);
            for (int i = 0; i < texts.size(); i++) assertArrayEquals(expected[i], prompted[i], 1e-6f, "text " + i);
        }
        assertEquals(1.0, Embedder.cosine(plain[0], plain[0]), 1e-6);
        assertFalse(Math.abs(Embedder.cosine(plain[0], prompted[0]) - 1) < 1e-4, "the prompt changes the embedding");
        double norm = 0;
        for (float v : prompted[7]) norm += v * v;
        assertEquals(1.0, norm, 1e-5, "the fixture's modules.json normalises");
        assertTrue(Embedder.placementOf(adapterFolder).isEmpty());
    }
}
