package dev.promptgrad.encoder;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.tensor.Workspace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Loading BERT folders that differ from the fixture's: task-model names with the {@code bert.} prefix and the older
 * LayerNorm gamma/beta names load to the same embeddings; configs, sentence-transformers modules and checkpoints
 * promptgrad cannot reproduce are refused with the file and the key or tensor; batches are validated.
 */
class EncoderLoadingTest {
    @TempDir
    Path temp;
    private final ReferenceBackend backend = new ReferenceBackend();

    @AfterEach
    void noLeaks() {
        assertEquals(0, backend.liveBytes(), "a failed load must free what it allocated");
        backend.close();
    }

    /** Copies the fixture folder's small files, and its weights renamed (null drops a tensor). */
    private Path copy(UnaryOperator<String> rename) throws IOException {
        Path source = BertGoldenTest.fixture();
        Path folder = Files.createDirectories(temp.resolve("model"));
        Files.copy(source.resolve("config.json"), folder.resolve("config.json"));
        Files.copy(source.resolve("modules.json"), folder.resolve("modules.json"));
        Files.createDirectories(folder.resolve("1_Pooling"));
        Files.copy(source.resolve("1_Pooling/config.json"), folder.resolve("1_Pooling/config.json"));
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        try (SafetensorsFile weights = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            for (String name : weights.names()) {
                String renamed = rename.apply(name);
                if (renamed == null || weights.info(name).dtype().name().startsWith("I")) continue;
                writer.add(renamed, weights.readFloats(name), weights.info(name).intShape());
            }
        }
        writer.write(folder.resolve("model.safetensors"));
        return folder;
    }

    private float[] embeddings(Path folder) {
        EncoderBatch batch = BertGoldenTest.goldenBatch(BertGoldenTest.goldenJson());
        try (BertModel model = BertModel.load(folder, backend, null);
             Workspace workspace = new Workspace(backend, "embeddings")) {
            return backend.download(model.forward(new Tape(backend, workspace), batch).pooled().value());
        }
    }

    @Test
    void taskModelPrefixAndLegacyLayerNormNames() throws IOException {
        float[] expected = embeddings(BertGoldenTest.fixture());
        Path legacy = copy(name -> "bert." + name.replace("LayerNorm.weight", "LayerNorm.gamma")
                .replace("LayerNorm.bias", "LayerNorm.beta"));
        assertArrayEquals(expected, embeddings(legacy));
    }

    private EncoderFormatException refusedFolder(Path folder) {
        return assertThrows(EncoderFormatException.class, () -> BertModel.load(folder, backend, null));
    }

    @Test
    void missingOrMisshapenWeights() throws IOException {
        Path missing = copy(name -> name.equals("encoder.layer.1.output.dense.bias") ? null : name);
        EncoderFormatException e = refusedFolder(missing);
        assertMentions(e, "'encoder.layer.1.output.dense.bias' is missing");

        Path wrongSize = temp.resolve("model");
        Files.writeString(wrongSize.resolve("config.json"), Files.readString(wrongSize.resolve("config.json"))
                .replace("\"intermediate_size\": 40", "\"intermediate_size\": 41"));
        e = refusedFolder(wrongSize);
        assertMentions(e, "is [40, 16] but config.json asks for [41, 16]");
    }

    @Test
    void configsAndModulesPromptgradCannotReproduce() throws IOException {
        Path folder = copy(UnaryOperator.identity());
        String config = Files.readString(folder.resolve("config.json"));
        Path configFile = folder.resolve("config.json");
        Files.writeString(configFile, config.replace("\"model_type\": \"bert\"", "\"model_type\": \"roberta\""));
        assertMentions(refusedFolder(folder), "model_type is 'roberta'");
        Files.writeString(configFile, config.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\""));
        assertMentions(refusedFolder(folder), "hidden_act is 'relu'");
        Files.writeString(configFile, config.replace("\"position_embedding_type\": \"absolute\"",
                "\"position_embedding_type\": \"relative_key\""));
        assertMentions(refusedFolder(folder), "position_embedding_type is 'relative_key'");
        Files.writeString(configFile, config.replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 5"));
        assertMentions(refusedFolder(folder), "does not divide into 5 heads");
        Files.writeString(configFile, config);

        String pooling = Files.readString(folder.resolve("1_Pooling/config.json"));
        Files.writeString(folder.resolve("1_Pooling/config.json"),
                pooling.replace("\"pooling_mode_max_tokens\": false", "\"pooling_mode_max_tokens\": true"));
        EncoderFormatException two = refusedFolder(folder);
        assertMentions(two, "2 pooling modes are on");
        Files.writeString(folder.resolve("1_Pooling/config.json"), pooling
                .replace("\"pooling_mode_max_tokens\": false", "\"pooling_mode_max_tokens\": true")
                .replace("\"pooling_mode_mean_tokens\": true", "\"pooling_mode_mean_tokens\": false"));
        assertMentions(refusedFolder(folder), "pooling_mode_max_tokens is not supported");
        Files.writeString(folder.resolve("1_Pooling/config.json"), pooling.replace("16", "17"));
        assertMentions(refusedFolder(folder), "word_embedding_dimension is 17");
        Files.writeString(folder.resolve("1_Pooling/config.json"), pooling);

        String modules = Files.readString(folder.resolve("modules.json"));
        Files.writeString(folder.resolve("modules.json"), modules.replace("models.Normalize", "models.Dense"));
        EncoderFormatException dense = refusedFolder(folder);
        assertMentions(dense, "sentence_transformers.models.Dense");
        Files.delete(folder.resolve("modules.json"));
        try (BertModel plain = BertModel.load(folder, backend, null)) {
            assertEquals(Pooling.MEAN_ONLY, plain.pooling(), "no modules.json: mean pooling, not normalised");
        }
        Files.delete(folder.resolve("model.safetensors"));
        assertMentions(refusedFolder(folder), "neither model.safetensors nor");
    }

    @Test
    void catalogNamesWhatItKnows() {
        EncoderFormatException e = assertThrows(EncoderFormatException.class,
                () -> EncoderCatalog.load(temp.resolve("nothing-here").toString(), backend));
        assertMentions(e, "neither a built-in encoder [minilm]");
        EncoderFormatException noTokenizer = assertThrows(EncoderFormatException.class,
                () -> EncoderCatalog.load(BertGoldenTest.fixture().toString(), backend));
        assertMentions(noTokenizer, "no tokenizer.json in it");
    }

    @Test
    void batchesArePaddedOnTheRightAndValidated() {
        EncoderBatch batch = EncoderBatch.of(List.of(new int[]{2, 7, 3}, new int[]{2, 3}), 0);
        assertArrayEquals(new int[]{2, 7, 3, 2, 3, 0}, batch.ids());
        assertArrayEquals(new int[]{1, 1, 1, 1, 1, 0}, batch.mask());
        assertEquals(2, batch.tokens(1));
        assertMentions(assertThrows(IllegalArgumentException.class,
                () -> new EncoderBatch(1, 2, new int[]{0, 2}, new int[]{0, 1}, new int[2])), "starts with padding");
        assertMentions(assertThrows(IllegalArgumentException.class,
                () -> new EncoderBatch(1, 2, new int[]{2, 3}, new int[]{1, 2}, new int[2])), "must be 0 or 1");
        assertMentions(assertThrows(IllegalArgumentException.class,
                () -> new EncoderBatch(1, 2, new int[]{2}, new int[]{1}, new int[1])), "batch · length = 2");
        assertArrayEquals(new int[]{0, 1, 2, 3, 4}, BertModel.positions(2, 3, PromptPlacement.BEFORE_CLS));
        assertArrayEquals(new int[]{1, 2, 0, 3, 4}, BertModel.positions(2, 3, PromptPlacement.AFTER_CLS));
    }
}
