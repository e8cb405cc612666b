package dev.promptgrad.onnx;

import dev.promptgrad.protobuf.ProtobufReader;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX {@code ModelProto} a weight reader needs: the graph's initializers (named tensors) and its
 * nodes, with each value name linked to the node that produces it and the nodes that consume it. Parsed from the
 * protobuf wire format by hand ({@link ProtobufReader}); no ONNX runtime, and nothing is executed. Tensor data stays
 * in the file's bytes until asked for. Refuses external data, sparse initializers and data that does not fit its dims.
 */
public final class OnnxModel {
    /** The largest file read: Java arrays stop just under 2 GiB. */
    public static final long MAX_BYTES = Integer.MAX_VALUE - 8;

    private final String source;
    private final Map<String, OnnxTensor> initializers = new LinkedHashMap<>();
    private final List<OnnxNode> nodes = new ArrayList<>();
    private final Map<String, OnnxNode> producers = new HashMap<>();
    private final Map<String, List<OnnxNode>> consumers = new HashMap<>();

    private OnnxModel(String source) {
        this.source = source;
    }

    /** Reads and parses an ONNX file. */
    public static OnnxModel read(Path file) {
        try {
            long size = Files.size(file);
            if (size > MAX_BYTES) {
                throw new OnnxFormatException(file + " is " + size + " bytes; promptgrad reads ONNX files up to "
                        + MAX_BYTES + " bytes (no external data)");
            }
            return parse(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read ONNX file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads a whole stream (e.g. a classpath resource) and parses it; {@code source} names it in errors. */
    public static OnnxModel read(InputStream in, String source) {
        try {
            return parse(in.readAllBytes(), source);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read ONNX model " + source + ": " + e.getMessage(), e);
        }
    }

    /** Parses the bytes of a ModelProto. The array is kept (initializer data points into it) and must not change. */
    public static OnnxModel parse(byte[] bytes, String source) {
        OnnxModel model = new OnnxModel(source);
        ProtobufReader reader = new ProtobufReader(bytes, source, OnnxFormatException::new);
        boolean sawGraph = false;
        while (reader.hasMore()) {
            long tag = reader.readTag();
            boolean graphField = ProtobufReader.fieldNumber(tag) == 7
                    && ProtobufReader.wireType(tag) == ProtobufReader.LENGTH_DELIMITED;
            if (graphField) {
                model.readGraph(reader.readMessage());
                sawGraph = true;
            } else {
                reader.skip(ProtobufReader.wireType(tag));
            }
        }
        if (!sawGraph) throw new OnnxFormatException(source + ": the model has no graph (ModelProto field 7)");
        for (OnnxNode node : model.nodes) {
            for (String output : node.outputs()) {
                if (output.isEmpty()) continue;
                OnnxNode earlier = model.producers.put(output, node);
                if (earlier != null) {
                    throw new OnnxFormatException(source + ": value '" + output + "' is written by both " + earlier
                            + " and " + node + "; an ONNX graph assigns each value once");
                }
            }
            for (String input : new LinkedHashSet<>(node.inputs())) {
                if (!input.isEmpty()) model.consumers.computeIfAbsent(input, k -> new ArrayList<>()).add(node);
            }
        }
        return model;
    }

    public String source() {
        return source;
    }

    /** The initializers by name, in file order. */
    public Map<String, OnnxTensor> initializers() {
        return Collections.unmodifiableMap(initializers);
    }

    /** The initializer {@code name}, or null. */
    public OnnxTensor initializer(String name) {
        return initializers.get(name);
    }

    /** The nodes in file (topological) order. */
    public List<OnnxNode> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    /** The node whose output is {@code value}, or null (an initializer or a graph input). */
    public OnnxNode producer(String value) {
        return producers.get(value);
    }

    /** The nodes that read {@code value}, in file order, each once however many of its inputs it is. */
    public List<OnnxNode> consumers(String value) {
        return Collections.unmodifiableList(consumers.getOrDefault(value, List.of()));
    }

    // GraphProto: node = 1, initializer = 5, sparse_initializer = 15
    private void readGraph(ProtobufReader graph) {
        while (graph.hasMore()) {
            int at = graph.position();
            long tag = graph.readTag();
            int field = ProtobufReader.fieldNumber(tag);
            int wire = ProtobufReader.wireType(tag);
            if (field == 1 && wire == ProtobufReader.LENGTH_DELIMITED) {
                nodes.add(readNode(graph.readMessage()));
            } else if (field == 5 && wire == ProtobufReader.LENGTH_DELIMITED) {
                OnnxTensor tensor = readTensor(graph.readMessage(), "initializer");
                if (initializers.put(tensor.name(), tensor) != null) {
                    throw graph.error(at, "initializer '" + tensor.name() + "' appears twice");
                }
            } else if (field == 15) {
                throw graph.error(at, "sparse initializers are not supported");
            } else {
                graph.skip(wire);
            }
        }
    }

    // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5
    private OnnxNode readNode(ProtobufReader node) {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        Map<String, OnnxNode.Attribute> attributes = new HashMap<>();
        String name = "";
        String opType = "";
        while (node.hasMore()) {
            long tag = node.readTag();
            int wire = ProtobufReader.wireType(tag);
            switch (wire == ProtobufReader.LENGTH_DELIMITED ? ProtobufReader.fieldNumber(tag) : 0) {
                case 1 -> inputs.add(node.readString());
                case 2 -> outputs.add(node.readString());
                case 3 -> name = node.readString();
                case 4 -> opType = node.readString();
                case 5 -> {
                    OnnxNode.Attribute attribute = readAttribute(node.readMessage());
                    attributes.put(attribute.name(), attribute);
                }
                default -> node.skip(wire);
            }
        }
        return new OnnxNode(name, opType, inputs, outputs, attributes);
    }

    // AttributeProto: name = 1, f = 2, i = 3, t = 5, ints = 8
    private OnnxNode.Attribute readAttribute(ProtobufReader attribute) {
        String name = "";
        long i = 0;
        float f = 0;
        OnnxTensor t = null;
        List<Long> ints = new ArrayList<>();
        while (attribute.hasMore()) {
            long tag = attribute.readTag();
            int field = ProtobufReader.fieldNumber(tag);
            int wire = ProtobufReader.wireType(tag);
            if (field == 1 && wire == ProtobufReader.LENGTH_DELIMITED) {
                name = attribute.readString();
            } else if (field == 2 && wire == ProtobufReader.FIXED32) {
                f = Float.intBitsToFloat(attribute.readFixed32());
            } else if (field == 3 && wire == ProtobufReader.VARINT) {
                i = attribute.readVarint();
            } else if (field == 5 && wire == ProtobufReader.LENGTH_DELIMITED) {
                t = readTensor(attribute.readMessage(), "attribute tensor");
            } else if (field == 8) {
                readRepeatedVarints(attribute, wire, ints);
            } else {
                attribute.skip(wire);
            }
        }
        return new OnnxNode.Attribute(name, i, f, ints.stream().mapToLong(Long::longValue).toArray(), t);
    }

    /** A repeated int64 field, packed (one length-delimited run) or not (one varint per occurrence). */
    private static void readRepeatedVarints(ProtobufReader reader, int wire, List<Long> into) {
        if (wire == ProtobufReader.LENGTH_DELIMITED) {
            ProtobufReader packed = reader.readMessage();
            while (packed.hasMore()) into.add(packed.readVarint());
        } else if (wire == ProtobufReader.VARINT) {
            into.add(reader.readVarint());
        } else {
            throw reader.error(reader.position(), "a repeated integer field has wire type " + wire);
        }
    }

    // TensorProto: dims = 1, data_type = 2, segment = 3, float_data = 4, int64_data = 7, name = 8, raw_data = 9,
    // data_location = 14 (1 = EXTERNAL)
    private OnnxTensor readTensor(ProtobufReader tensor, String what) {
        int start = tensor.position();
        List<Long> dims = new ArrayList<>();
        List<Long> int64Data = new ArrayList<>();
        float[] floatData = null;
        int floatCount = 0;
        int dataType = 0;
        String name = "";
        int[] raw = null;
        while (tensor.hasMore()) {
            int at = tensor.position();
            long tag = tensor.readTag();
            int field = ProtobufReader.fieldNumber(tag);
            int wire = ProtobufReader.wireType(tag);
            switch (field) {
                case 1 -> readRepeatedVarints(tensor, wire, dims);
                case 2 -> dataType = tensor.readInt32("data_type");
                case 3 -> throw tensor.error(at, "segmented tensors are not supported");
                case 4 -> {
                    if (wire == ProtobufReader.LENGTH_DELIMITED) {
                        int[] span = tensor.readSpan();
                        if (span[1] % 4 != 0) {
                            throw tensor.error(at, "packed float_data of " + span[1] + " bytes is not whole floats");
                        }
                        floatData = grow(floatData, floatCount + span[1] / 4);
                        ByteBuffer.wrap(tensor.bytes(), span[0], span[1]).order(ByteOrder.LITTLE_ENDIAN)
                                .asFloatBuffer().get(floatData, floatCount, span[1] / 4);
                        floatCount += span[1] / 4;
                    } else {
                        floatData = grow(floatData, floatCount + 1);
                        floatData[floatCount++] = Float.intBitsToFloat(tensor.readFixed32());
                    }
                }
                case 7 -> readRepeatedVarints(tensor, wire, int64Data);
                case 8 -> name = tensor.readString();
                case 9 -> raw = tensor.readSpan();
                case 14 -> {
                    if (tensor.readVarint() == 1) {
                        throw tensor.error(at, what + " '" + name + "' keeps its data in an external file, which"
                                + " promptgrad does not read; save the model with its weights inside");
                    }
                }
                default -> tensor.skip(wire);
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        long elements = elementCount(tensor, start, what, name, shape);
        int elementBytes = switch (dataType) {
            case OnnxTensor.FLOAT -> 4;
            case OnnxTensor.INT64 -> 8;
            default -> 0;   // other types are kept by name and shape only; reading their values is refused
        };
        String label = what + " '" + name + "' " + Arrays.toString(shape);
        if (raw != null) {
            if (elementBytes > 0 && raw[1] != elements * elementBytes) {
                throw tensor.error(start, label + " has " + elements + " elements (" + elements * elementBytes
                        + " bytes) but raw_data holds " + raw[1] + " bytes");
            }
            return new OnnxTensor(name, shape, dataType, tensor.bytes(), raw[0], null, null, elements);
        }
        if (dataType == OnnxTensor.FLOAT && floatCount != elements) {
            throw tensor.error(start, label + " has " + elements + " elements but float_data holds " + floatCount);
        }
        if (dataType == OnnxTensor.INT64 && int64Data.size() != elements) {
            throw tensor.error(start, label + " has " + elements + " elements but int64_data holds "
                    + int64Data.size());
        }
        float[] floats = floatData == null ? new float[0] : Arrays.copyOf(floatData, floatCount);
        return new OnnxTensor(name, shape, dataType, null, 0, floats,
                int64Data.stream().mapToLong(Long::longValue).toArray(), elements);
    }

    /** The product of the dims, each non-negative and within int range, the product within a Java array. */
    private static long elementCount(ProtobufReader tensor, int start, String what, String name, long[] dims) {
        long elements = 1;
        for (long d : dims) {
            if (d < 0 || d > Integer.MAX_VALUE) {
                throw tensor.error(start, what + " '" + name + "' has dims " + Arrays.toString(dims)
                        + "; each must be between 0 and " + Integer.MAX_VALUE);
            }
            elements *= d;
            if (elements > MAX_BYTES) {
                throw tensor.error(start, what + " '" + name + "' has dims " + Arrays.toString(dims)
                        + ", more elements than the " + MAX_BYTES + " a file can hold");
            }
        }
        return elements;
    }

    private static float[] grow(float[] array, int needed) {
        if (array == null) return new float[Math.max(needed, 16)];
        return needed <= array.length ? array : Arrays.copyOf(array, Math.max(needed, array.length * 2));
    }

    @Override
    public String toString() {
        return "OnnxModel(" + source + ", " + initializers.size() + " initializers, " + nodes.size() + " nodes)";
    }
}
