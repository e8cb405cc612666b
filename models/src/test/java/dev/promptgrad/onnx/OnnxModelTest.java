package dev.promptgrad.onnx;

import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.ProtobufWriter;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hand-written protobuf reader on ONNX files built byte by byte here (packed and unpacked fields, Constant
 * attributes, float_data and raw_data) and on the tiny BERT export of tools/bert_fixtures.py; malformed input
 * (truncated and overlong varints, lengths past the end, dims that do not match the data, external data, groups)
 * fails with the byte offset and what is wrong.
 */
class OnnxModelTest {

    private static byte[] floatsLittleEndian(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) buffer.putFloat(v);
        return buffer.array();
    }

    private static byte[] model(ProtobufWriter graph) {
        return new ProtobufWriter().intField(1, 8).string(2, "handmade").message(7, graph).bytes();
    }

    /** A graph: weight W [2, 3] in raw_data, bias b [3] in packed float_data, shape s a Constant INT64 [1, 3]. */
    private static ProtobufWriter graph() {
        ProtobufWriter weight = new ProtobufWriter().intField(1, 2).intField(1, 3).intField(2, OnnxTensor.FLOAT).string(8, "W")
                .bytesField(9, floatsLittleEndian(1, 2, 3, 4, 5, 6));
        ProtobufWriter bias = new ProtobufWriter().bytesField(1, new ProtobufWriter().varint(3).bytes()).intField(2, OnnxTensor.FLOAT)
                .bytesField(4, floatsLittleEndian(0.5f, -0.5f, 0.25f)).string(8, "b");
        ProtobufWriter shape = new ProtobufWriter().intField(1, 2).intField(2, OnnxTensor.INT64)
                .bytesField(7, new ProtobufWriter().varint(1).varint(3).bytes());
        ProtobufWriter constant = new ProtobufWriter().string(2, "s").string(3, "/Constant").string(4, "Constant")
                .message(5, new ProtobufWriter().string(1, "value").message(5, shape).intField(20, 4));
        ProtobufWriter matmul = new ProtobufWriter().string(1, "x").string(1, "W").string(2, "xw").string(3, "/MatMul")
                .string(4, "MatMul");
        ProtobufWriter add = new ProtobufWriter().string(1, "b").string(1, "xw").string(2, "y").string(4, "Add")
                .message(5, new ProtobufWriter().string(1, "alpha").fixed32(2, 0.75f).intField(20, 1));
        ProtobufWriter reshape = new ProtobufWriter().string(1, "y").string(1, "s").string(2, "z").string(4, "Reshape")
                .message(5, new ProtobufWriter().string(1, "perm").tag(8, 0).varint(0).tag(8, 0).varint(2).intField(20, 7));
        return new ProtobufWriter().message(1, constant).message(1, matmul).message(1, add).message(1, reshape)
                .string(2, "handmade graph").message(5, weight).message(5, bias);
    }

    @Test
    void readsAHandmadeGraph() {
        OnnxModel model = OnnxModel.parse(model(graph()), "handmade.onnx");
        assertEquals(List.of("W", "b"), List.copyOf(model.initializers().keySet()));
        OnnxTensor w = model.initializer("W");
        assertArrayEquals(new long[]{2, 3}, w.dims());
        assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, w.floats());
        assertArrayEquals(new float[]{0.5f, -0.5f, 0.25f}, model.initializer("b").floats());
        assertEquals(4, model.nodes().size());
        OnnxNode add = model.producer("y");
        assertEquals("Add", add.opType());
        assertEquals(0.75f, add.attributes().get("alpha").f());
        assertEquals("MatMul", model.producer(add.input(1)).opType());
        assertEquals(List.of(add), model.consumers("b"));
        OnnxNode constant = model.producer("s");
        assertArrayEquals(new long[]{1, 3}, constant.attributes().get("value").t().longs());
        assertArrayEquals(new long[]{0, 2}, model.producer("z").attributes().get("perm").ints());
        assertNull(model.producer("x"), "a graph input has no producer");
        assertTrue(model.consumers("z").isEmpty());
        OnnxTensor shape = constant.attributes().get("value").t();
        OnnxFormatException notFloat = assertThrows(OnnxFormatException.class, shape::floats);
        assertTrue(notFloat.getMessage().contains("not FLOAT"), notFloat.getMessage());
    }

    @Test
    void readsTheTinyBertExport() {
        OnnxModel model = OnnxModel.read(Fixtures.folder("bert-tiny").resolve("model.onnx"));
        long anonymous = model.initializers().keySet().stream().filter(n -> n.startsWith("onnx::MatMul_")).count();
        assertEquals(12, anonymous, "six Linear weights per layer, two layers");
        assertEquals(26 + 12, model.initializers().size());
        assertArrayEquals(new long[]{50, 16}, model.initializer("embeddings.word_embeddings.weight").dims());
        OnnxNode add = model.consumers("encoder.layer.1.intermediate.dense.bias").get(0);
        OnnxNode matmul = model.producer(add.input(1));
        assertEquals("MatMul", matmul.opType());
        assertArrayEquals(new long[]{16, 40}, model.initializer(matmul.input(1)).dims(), "[in, out]");
        assertEquals(7, model.initializer("embeddings.position_ids").dataType());
        assertEquals(23, model.initializer("embeddings.position_ids").longs()[23]);
    }

    private static void refused(byte[] bytes, String... expected) {
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModel.parse(bytes, "bad.onnx"));
        for (String part : expected) assertTrue(e.getMessage().contains(part), e.getMessage());
        assertTrue(e.getMessage().startsWith("bad.onnx: "), e.getMessage());
    }

    @Test
    void malformedProtobufIsRefusedWithItsOffset() {
        refused(new ProtobufWriter().raw(0x08, 0x80).bytes(), "byte 1", "truncated varint");
        refused(new ProtobufWriter().raw(0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02).bytes(), "byte 1",
                "overflows 64 bits");
        refused(new ProtobufWriter().raw(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01).bytes(),
                "longer than 10 bytes");
        refused(new ProtobufWriter().raw(0x3A, 0x05, 0x00).bytes(), "byte 1", "declares 5 bytes but only 1 remain in the input");
        // the graph says 4 bytes, its node claims 10 of them
        refused(new ProtobufWriter().raw(0x3A, 0x04, 0x0A, 0x0A, 0x00, 0x00).bytes(), "byte 3",
                "declares 10 bytes but only 2 remain in the enclosing message");
        refused(new ProtobufWriter().tag(7, 3).bytes(), "groups");
        refused(new ProtobufWriter().raw(0x07, 0x00).bytes(), "field number 0");
        refused(new ProtobufWriter().intField(1, 8).bytes(), "has no graph");
        refused(model(new ProtobufWriter().message(1, new ProtobufWriter().raw(0x0A, 0x02, 0xC3, 0x28))), "not valid UTF-8");
    }

    @Test
    void tensorsWhoseDimsDoNotMatchTheirDataAreRefused() {
        ProtobufWriter huge = new ProtobufWriter().intField(1, 1L << 40).intField(2, OnnxTensor.FLOAT).string(8, "huge")
                .bytesField(9, floatsLittleEndian(1, 2, 3, 4));
        refused(model(new ProtobufWriter().message(5, huge)), "initializer 'huge' has dims [1099511627776]", "between 0 and");
        ProtobufWriter product = new ProtobufWriter().intField(1, 1 << 30).intField(1, 1 << 30).intField(2, OnnxTensor.FLOAT)
                .string(8, "big")
                .bytesField(9, floatsLittleEndian(1));
        refused(model(new ProtobufWriter().message(5, product)), "'big' has dims [1073741824, 1073741824]", "more elements");
        ProtobufWriter negative = new ProtobufWriter().intField(1, -1).intField(2, OnnxTensor.FLOAT).string(8, "neg");
        refused(model(new ProtobufWriter().message(5, negative)), "'neg' has dims [-1]");
        ProtobufWriter short_ = new ProtobufWriter().intField(1, 4).intField(2, OnnxTensor.FLOAT).string(8, "short")
                .bytesField(9, floatsLittleEndian(1, 2));
        refused(model(new ProtobufWriter().message(5, short_)),
                "'short' [4] has 4 elements (16 bytes) but raw_data holds 8 bytes");
        ProtobufWriter floats = new ProtobufWriter().intField(1, 3).intField(2, OnnxTensor.FLOAT).string(8, "f")
                .fixed32(4, 1).fixed32(4, 2);
        refused(model(new ProtobufWriter().message(5, floats)), "'f' [3] has 3 elements but float_data holds 2");
        ProtobufWriter external = new ProtobufWriter().intField(1, 1).intField(2, OnnxTensor.FLOAT).string(8, "ext").intField(14, 1);
        refused(model(new ProtobufWriter().message(5, external)), "'ext' keeps its data in an external file");
        ProtobufWriter twice = new ProtobufWriter().intField(1, 1).intField(2, OnnxTensor.FLOAT).string(8, "w").fixed32(4, 1);
        refused(model(new ProtobufWriter().message(5, twice).message(5, twice)), "initializer 'w' appears twice");
    }
}
