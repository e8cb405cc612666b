package dev.promptgrad.onnx;

import java.util.List;
import java.util.Map;

/**
 * One ONNX {@code NodeProto}: an operator ({@code op_type}, e.g. "MatMul"), the names of the values it reads and
 * writes (an empty input name is an omitted optional input), and the attributes promptgrad reads (integers,
 * floats, integer lists, tensors). Only data; {@link OnnxModel} links outputs to the nodes that produce them.
 */
public record OnnxNode(String name, String opType, List<String> inputs, List<String> outputs,
                       Map<String, Attribute> attributes) {

    public OnnxNode {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        attributes = Map.copyOf(attributes);
    }

    /** An {@code AttributeProto}: whichever of its fields the file set; the others are 0, null or empty. */
    public record Attribute(String name, long i, float f, long[] ints, OnnxTensor t) {
    }

    public String input(int index) {
        return index < inputs.size() ? inputs.get(index) : "";
    }

    public String output(int index) {
        return index < outputs.size() ? outputs.get(index) : "";
    }

    /** "MatMul /encoder/layer.0/attention/self/query/MatMul". */
    @Override
    public String toString() {
        return opType + " " + (name.isEmpty() ? outputs : name);
    }
}
