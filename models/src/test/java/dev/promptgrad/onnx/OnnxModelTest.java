package dev.promptgrad.onnx;

import dev.promptgrad.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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

    /** Protobuf wire format, just enough to write test files. */
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

        Proto tag(int field, int wireType) {
            return varint((long) field << 3 | wireType);
        }

        Proto intField(int field, long value) {
            return tag(field, 0).varint(value);
        }

        Proto bytesField(int field, byte[] bytes) {
            tag(field, 2).varint(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        Proto string(int field, String s) {
            return bytesField(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto inner) {
            return bytesField(field, inner.bytes());
        }

        Proto fixed32(int field, float value) {
            tag(field, 5);
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array());
            return this;
        }

        Proto raw(int... bytes) {
            for (int b : bytes) out.write(b);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    private static byte[] floatsLittleEndian(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) buffer.putFloat(v);
        return buffer.array();
    }

    private static byte[] model(Proto graph) {
        return new Proto().intField(1, 8).string(2, "handmade").message(7, graph).bytes();
    }

    /** A graph: weight W [2, 3] in raw_data, bias b [3] in packed float_data, shape s a Constant INT64 [1, 3]. */
    private static Proto graph() {
        Proto weight = new Proto().intField(1, 2).intField(1, 3).intField(2, OnnxTensor.FLOAT).string(8, "W")
                .bytesField(9, floatsLittleEndian(1, 2, 3, 4, 5, 6));
        Proto bias = new Proto().bytesField(1, new Proto().varint(3).bytes()).intField(2, OnnxTensor.FLOAT)
                .bytesField(4, floatsLittleEndian(0.5f, -0.5f, 0.25f)).string(8, "b");
        Proto shape = new Proto().intField(1, 2).intField(2, OnnxTensor.INT64)
                .bytesField(7, new Proto().varint(1).varint(3).bytes());
        Proto constant = new Proto().string(2, "s").string(3, "/Constant").string(4, "Constant")
                .message(5, new Proto().string(1, "value").message(5, shape).intField(20, 4));
        Proto matmul = new Proto().string(1, "x").string(1, "W").string(2, "xw").string(3, "/MatMul")
                .string(4, "MatMul");
        Proto add = new Proto().string(1, "b").string(1, "xw").string(2, "y").string(4, "Add")
                .message(5, new Proto().string(1, "alpha").fixed32(2, 0.75f).intField(20, 1));
        Proto reshape = new Proto().string(1, "y").string(1, "s").string(2, "z").string(4, "Reshape")
                .message(5, new Proto().string(1, "perm").tag(8, 0).varint(0).tag(8, 0).varint(2).intField(20, 7));
        return new Proto().message(1, constant).message(1, matmul).message(1, add).message(1, reshape)
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
        refused(new Proto().raw(0x08, 0x80).bytes(), "byte 1", "truncated varint");
        refused(new Proto().raw(0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02).bytes(), "byte 1",
                "overflows 64 bits");
        refused(new Proto().raw(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01).bytes(),
                "longer than 10 bytes");
        refused(new Proto().raw(0x3A, 0x05, 0x00).bytes(), "byte 1", "declares 5 bytes but only 1 remain in the input");
        // the graph says 4 bytes, its node claims 10 of them
        refused(new Proto().raw(0x3A, 0x04, 0x0A, 0x0A, 0x00, 0x00).bytes(), "byte 3",
                "declares 10 bytes but only 2 remain in the enclosing message");
        refused(new Proto().tag(7, 3).bytes(), "groups");
        refused(new Proto().raw(0x07, 0x00).bytes(), "field number 0");
        refused(new Proto().intField(1, 8).bytes(), "has no graph");
        refused(model(new Proto().message(1, new Proto().raw(0x0A, 0x02, 0xC3, 0x28))), "not valid UTF-8");
    }

    @Test
    void tensorsWhoseDimsDoNotMatchTheirDataAreRefused() {
        Proto huge = new Proto().intField(1, 1L << 40).intField(2, OnnxTensor.FLOAT).string(8, "huge")
                .bytesField(9, floatsLittleEndian(1, 2, 3, 4));
        refused(model(new Proto().message(5, huge)), "initializer 'huge' has dims [1099511627776]", "between 0 and");
        Proto product = new Proto().intField(1, 1 << 30).intField(1, 1 << 30).intField(2, OnnxTensor.FLOAT)
                .string(8, "big")
                .bytesField(9, floatsLittleEndian(1));
        refused(model(new Proto().message(5, product)), "'big' has dims [1073741824, 1073741824]", "more elements");
        Proto negative = new Proto().intField(1, -1).intField(2, OnnxTensor.FLOAT).string(8, "neg");
        refused(model(new Proto().message(5, negative)), "'neg' has dims [-1]");
        Proto short_ = new Proto().intField(1, 4).intField(2, OnnxTensor.FLOAT).string(8, "short")
                .bytesField(9, floatsLittleEndian(1, 2));
        refused(model(new Proto().message(5, short_)),
                "'short' [4] has 4 elements (16 bytes) but raw_data holds 8 bytes");
        Proto floats = new Proto().intField(1, 3).intField(2, OnnxTensor.FLOAT).string(8, "f")
                .fixed32(4, 1).fixed32(4, 2);
        refused(model(new Proto().message(5, floats)), "'f' [3] has 3 elements but float_data holds 2");
        Proto external = new Proto().intField(1, 1).intField(2, OnnxTensor.FLOAT).string(8, "ext").intField(14, 1);
        refused(model(new Proto().message(5, external)), "'ext' keeps its data in an external file");
        Proto twice = new Proto().intField(1, 1).intField(2, OnnxTensor.FLOAT).string(8, "w").fixed32(4, 1);
        refused(model(new Proto().message(5, twice).message(5, twice)), "initializer 'w' appears twice");
    }
}
