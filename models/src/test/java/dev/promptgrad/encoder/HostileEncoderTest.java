package dev.promptgrad.encoder;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.onnx.OnnxFormatException;
import dev.promptgrad.onnx.OnnxModel;
import dev.promptgrad.safetensors.SafetensorsFile;
import dev.promptgrad.safetensors.SafetensorsWriter;
import dev.promptgrad.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Crafted encoder files (docs/fuzzing.md): an ONNX graph whose shape Concat feeds itself (which used to recurse
 * until the stack overflowed), a value written by two nodes, a modules.json that points outside the model folder,
 * and a NaN weight. Each is refused with the reader's exception naming the file.
 */
class HostileEncoderTest {
    @TempDir
    Path temp;

    private final Backend backend = new ReferenceBackend();

    @AfterEach
    void allMemoryReturned() {
        assertEquals(0, backend.liveBytes(), "a refused encoder must leave no weights behind");
    }

    /** Protobuf wire format, just enough for the graphs below. */
    private static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto varint(long value) {
            while ((value & ~0x7FL) != 0) {
                out.write((int) ((value & 0x7F) | 0x80));
                value >>>= 7;
            }
            out.write((int) value);
            return this;
        }

        Proto intField(int field, long value) {
            return varint((long) field << 3).varint(value);
        }

        Proto bytesField(int field, byte[] bytes) {
            varint((long) field << 3 | 2).varint(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        Proto string(int field, String s) {
            return bytesField(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto inner) {
            return bytesField(field, inner.out.toByteArray());
        }

        /** A NodeProto: inputs (1), outputs (2), op_type (4). */
        static Proto node(String opType, String[] inputs, String... outputs) {
            Proto node = new Proto();
            for (String input : inputs) node.string(1, input);
            for (String output : outputs) node.string(2, output);
            return node.string(4, opType);
        }

        /** A FLOAT initializer of zeros: dims (1), data_type (2), name (8), raw_data (9). */
        static Proto zeros(String name, int... dims) {
            Proto tensor = new Proto();
            int count = 1;
            for (int d : dims) {
                tensor.intField(1, d);
                count *= d;
            }
            return tensor.intField(2, 1).string(8, name).bytesField(9, new byte[4 * count]);
        }

        /** A ModelProto holding the graph (field 7). */
        byte[] model() {
            return new Proto().intField(1, 8).message(7, this).out.toByteArray();
        }
    }

    private static final String QUERY_BIAS = "encoder.layer.0.attention.self.query.bias";

    @Test
    void aShapeConcatThatFeedsItselfEndsInAnErrorNotAStackOverflow() {
        Proto graph = new Proto()
                .message(1, Proto.node("Add", new String[]{"q", QUERY_BIAS}, "qb"))
                .message(1, Proto.node("Reshape", new String[]{"qb", "shape"}, "r"))
                .message(1, Proto.node("Concat", new String[]{"shape", "shape"}, "shape"))
                .message(5, Proto.zeros("embeddings.word_embeddings.weight", 4, 8))
                .message(5, Proto.zeros(QUERY_BIAS, 8));
        OnnxModel model = OnnxModel.parse(graph.model(), "cycle.onnx");
        EncoderFormatException e = assertThrows(EncoderFormatException.class,
                () -> OnnxBertGraph.load(model, backend, Pooling.MEAN_ONLY));
        assertMentions(e, "cycle.onnx", "cannot find the head count", "heads · headSize = 8");
    }

    @Test
    void aValueWrittenByTwoNodesIsRefused() {
        Proto graph = new Proto()
                .message(1, Proto.node("Relu", new String[]{"x"}, "y"))
                .message(1, Proto.node("Sigmoid", new String[]{"x"}, "y"));
        OnnxFormatException e = assertThrows(OnnxFormatException.class,
                () -> OnnxModel.parse(graph.model(), "twice.onnx"));
        assertMentions(e, "twice.onnx", "value 'y' is written by both Relu [y] and Sigmoid [y]");
    }

    private Path modules(String poolingPath) throws IOException {
        Path folder = Files.createDirectories(temp.resolve("model"));
        Files.writeString(folder.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": %s, "type": "sentence_transformers.models.Pooling"}]
                """.formatted("\"" + poolingPath.replace("\\", "\\\\") + "\""));
        return folder;
    }

    @Test
    void aPoolingPathOutsideTheModelFolderIsRefused() throws IOException {
        Files.createDirectories(temp.resolve("outside"));
        Files.writeString(temp.resolve("outside/config.json"), "{\"pooling_mode_cls_token\": true}");
        for (String path : new String[]{"../outside", "1_Pooling/../../outside", temp.resolve("outside").toString()}) {
            Path folder = modules(path);
            EncoderFormatException e = assertThrows(EncoderFormatException.class, () -> Pooling.read(folder, 16));
            assertMentions(e, folder.resolve("modules.json").toString(), "module path '" + path + "'",
                    "leaves the model folder");
        }
    }

    @Test
    void aMissingPoolingConfigIsNamed() throws IOException {
        Path folder = modules("1_Pooling");
        EncoderFormatException e = assertThrows(EncoderFormatException.class, () -> Pooling.read(folder, 16));
        assertMentions(e, folder.resolve("1_Pooling").resolve("config.json").toString(), "does not exist");
    }

    @Test
    void aNanWeightInABertFolderIsRefused() throws IOException {
        Path source = Fixtures.folder("bert-tiny");
        Path folder = Files.createDirectories(temp.resolve("bert-nan"));
        Files.copy(source.resolve("config.json"), folder.resolve("config.json"));
        SafetensorsWriter writer = new SafetensorsWriter();
        try (SafetensorsFile weights = SafetensorsFile.open(source.resolve("model.safetensors"))) {
            for (String name : weights.names()) {
                if (!weights.info(name).dtype().readableAsFloat32()) continue;
                float[] values = weights.readFloats(name);
                if (name.endsWith("encoder.layer.1.output.dense.bias")) values[2] = Float.NaN;
                writer.add(name, values, weights.info(name).intShape());
            }
        }
        writer.write(folder.resolve("model.safetensors"));
        EncoderFormatException e = assertThrows(EncoderFormatException.class,
                () -> HuggingFaceBertFolder.load(folder, backend, Pooling.MEAN_ONLY));
        assertMentions(e, folder.resolve("model.safetensors").toString(),
                "encoder.layer.1.output.dense.bias' holds NaN at element 2");
    }
}
