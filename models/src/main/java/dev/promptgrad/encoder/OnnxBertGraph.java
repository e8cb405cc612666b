package dev.promptgrad.encoder;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.onnx.OnnxModel;
import dev.promptgrad.onnx.OnnxNode;
import dev.promptgrad.onnx.OnnxTensor;
import dev.promptgrad.tensor.Weights;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a BERT encoder out of an ONNX graph exported from Hugging Face's BertModel (torch.onnx.export, as in
 * Xenova/all-MiniLM-L6-v2): named initializers map to BERT's weights directly; the anonymous {@code onnx::MatMul_*}
 * weights are identified by following the graph from each MatMul to the Add with its named bias
 * ({@code encoder.layer.0.attention.self.query.bias} → {@code ….query.weight}), never by their order or number,
 * and transposed from ONNX's [in, out] to nn.Linear's [out, in]. Sizes come from the initializers' shapes, the head
 * count from the query's Reshape, ε from the LayerNorm's constant, the activation from the Erf after the
 * intermediate projection. Nothing in the graph is executed.
 */
final class OnnxBertGraph {
    private static final long UNKNOWN = Long.MIN_VALUE;

    private final OnnxModel graph;
    private final String prefix;                                      // "" or "bert."
    private final Map<String, OnnxTensor> linearWeights = new HashMap<>();  // HF weight name → [in, out] tensor
    private final Map<String, long[]> constantVectors = new HashMap<>();    // value name → constantVector's answer

    private OnnxBertGraph(OnnxModel graph) {
        this.graph = graph;
        this.prefix = graph.initializer("embeddings.word_embeddings.weight") != null ? ""
                : graph.initializer("bert.embeddings.word_embeddings.weight") != null ? "bert." : null;
        if (prefix == null) {
            throw new EncoderFormatException(graph.source() + " has no initializer embeddings.word_embeddings.weight;"
                    + " is it an ONNX export of a BERT model?");
        }
        findLinearWeights();
    }

    static BertModel load(Path file, Backend backend, Pooling pooling) {
        return load(OnnxModel.read(file), backend, pooling);
    }

    static BertModel load(OnnxModel graph, Backend backend, Pooling pooling) {
        OnnxBertGraph bert = new OnnxBertGraph(graph);
        BertConfig config;
        try {
            config = bert.config();
        } catch (IllegalArgumentException e) {
            throw new EncoderFormatException(graph.source() + ": the sizes read off the graph do not make a BERT: "
                    + e.getMessage(), e);
        }
        Weights weights = new Weights(backend, graph.source());
        try {
            for (Map.Entry<String, int[]> e : BertModel.expectedShapes(config).entrySet()) {
                float[] values = bert.values(e.getKey(), e.getValue());
                BertModel.requireFinite(values, graph.source(), e.getKey());
                weights.put(e.getKey(), values, e.getValue());
            }
            return new BertModel(graph.source(), config, pooling, weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    /** Every Add of a MatMul's output and a named ".bias" initializer gives that bias's Linear its weight. */
    private void findLinearWeights() {
        for (OnnxNode add : graph.nodes()) {
            if (!add.opType().equals("Add") || add.inputs().size() != 2) continue;
            for (int side = 0; side < 2; side++) {
                String bias = add.input(side);
                OnnxNode product = graph.producer(add.input(1 - side));
                if (!bias.endsWith(".bias") || graph.initializer(bias) == null || product == null
                        || !product.opType().equals("MatMul")) {
                    continue;
                }
                OnnxTensor weight = graph.initializer(product.input(1));
                if (weight == null || weight.rank() != 2) continue;
                String name = bias.substring(prefix.length(), bias.length() - "bias".length()) + "weight";
                if (linearWeights.put(name, weight) != null) {
                    throw new EncoderFormatException(graph.source() + ": two MatMul nodes feed an Add with bias '"
                            + bias + "'");
                }
            }
        }
    }

    private BertConfig config() {
        OnnxTensor words = named("embeddings.word_embeddings.weight", 2);
        int dim = (int) words.dims()[1];
        int layers = 0;
        while (graph.initializer(prefix + "encoder.layer." + layers + ".attention.self.query.bias") != null) layers++;
        if (layers == 0) {
            throw new EncoderFormatException(graph.source()
                    + ": no initializer encoder.layer.0.attention.self.query.bias");
        }
        int heads = heads(dim);
        double eps = layerNormEps("embeddings.LayerNorm.weight");
        for (int l = 0; l < layers; l++) {
            for (String norm : new String[]{"attention.output.LayerNorm.weight", "output.LayerNorm.weight"}) {
                double layerEps = layerNormEps("encoder.layer." + l + "." + norm);
                if (layerEps != eps) {
                    throw new EncoderFormatException(graph.source() + ": LayerNorm ε differs: " + eps
                            + " for the embeddings, " + layerEps + " for encoder.layer." + l + "." + norm);
                }
            }
        }
        return new BertConfig((int) words.dims()[0], dim, layers, heads,
                (int) named("encoder.layer.0.intermediate.dense.bias", 1).dims()[0],
                (int) named("embeddings.position_embeddings.weight", 2).dims()[0],
                (int) named("embeddings.token_type_embeddings.weight", 2).dims()[0], eps, activation());
    }

    private OnnxTensor named(String name, int rank) {
        OnnxTensor t = graph.initializer(prefix + name);
        if (t == null || t.rank() != rank || t.dataType() != OnnxTensor.FLOAT) {
            throw new EncoderFormatException(graph.source() + ": initializer '" + prefix + name + "' is "
                    + (t == null ? "missing" : t.toString()) + "; expected a FLOAT tensor of rank " + rank);
        }
        return t;
    }

    /** The values of a BERT weight: named initializers as they are, Linear weights transposed to [out, in]. */
    private float[] values(String name, int[] shape) {
        OnnxTensor linear = linearWeights.get(name);
        if (linear != null) {
            int in = shape[1];
            int out = shape[0];
            if (!Arrays.equals(linear.intDims(), new int[]{in, out})) {
                throw new EncoderFormatException(graph.source() + ": MatMul weight '" + linear.name() + "' for " + name
                        + " is " + Arrays.toString(linear.dims()) + "; expected [in, out] = [" + in + ", " + out + "]");
            }
            float[] inOut = linear.floats();
            float[] outIn = new float[inOut.length];
            for (int i = 0; i < in; i++) {
                for (int o = 0; o < out; o++) outIn[o * in + i] = inOut[i * out + o];
            }
            return outIn;
        }
        OnnxTensor t = graph.initializer(prefix + name);
        if (t == null) {
            throw new EncoderFormatException(graph.source() + ": found no initializer for BERT weight '" + name + "'"
                    + (name.endsWith(".weight") ? " (and no MatMul feeding the Add of its bias)" : ""));
        }
        if (!Arrays.equals(t.intDims(), shape)) {
            throw new EncoderFormatException(graph.source() + ": initializer '" + t.name() + "' is "
                    + Arrays.toString(t.dims()) + "; expected " + Arrays.toString(shape));
        }
        return t.floats();
    }

    /** The head count from the Reshape of layer 0's query to [batch, T, heads, headSize]. */
    private int heads(int dim) {
        String queryBias = prefix + "encoder.layer.0.attention.self.query.bias";
        for (OnnxNode add : graph.consumers(queryBias)) {
            for (OnnxNode reshape : graph.consumers(add.output(0))) {
                if (!reshape.opType().equals("Reshape")) continue;
                long[] shape = constantVector(reshape.input(1));
                // heads · headSize = dim, tested without a product that could overflow
                if (shape != null && shape.length == 4 && shape[2] > 0 && shape[2] <= dim
                        && dim % shape[2] == 0 && shape[3] == dim / shape[2]) {
                    return (int) shape[2];
                }
            }
        }
        throw new EncoderFormatException(graph.source() + ": cannot find the head count: no Reshape of the query"
                + " (after the Add of " + queryBias + ") to a constant [batch, T, heads, headSize] with"
                + " heads · headSize = " + dim);
    }

    /**
     * An INT64 vector from an initializer, a Constant node, or a Concat of those (other parts: one UNKNOWN each), or
     * null. Answers are remembered per value, so shared inputs are followed once; a Concat that feeds itself,
     * directly or not, is not a constant.
     */
    private long[] constantVector(String value) {
        if (constantVectors.containsKey(value)) return constantVectors.get(value);
        constantVectors.put(value, null);   // a cycle back to this value finds null: not a constant
        long[] vector = followConstant(value);
        constantVectors.put(value, vector);
        return vector;
    }

    private long[] followConstant(String value) {
        OnnxTensor init = graph.initializer(value);
        if (init != null) return init.dataType() == OnnxTensor.INT64 ? init.longs() : null;
        OnnxNode node = graph.producer(value);
        if (node == null) return null;
        if (node.opType().equals("Constant")) {
            OnnxNode.Attribute attribute = node.attributes().get("value");
            return attribute != null && attribute.t() != null && attribute.t().dataType() == OnnxTensor.INT64
                    ? attribute.t().longs() : null;
        }
        if (!node.opType().equals("Concat")) return null;
        List<Long> parts = new ArrayList<>();
        for (String input : node.inputs()) {
            long[] part = constantVector(input);
            if (part == null) parts.add(UNKNOWN);
            else for (long v : part) parts.add(v);
        }
        return parts.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * ε of the LayerNorm whose scale is {@code weight}: a LayerNormalization node's epsilon, or, as opset-11 exports
     * spell it out, the constant in (x − mean) / Sqrt(ReduceMean((x − mean)²) + ε) · weight.
     */
    private double layerNormEps(String weight) {
        String scale = prefix + weight;
        for (OnnxNode node : graph.consumers(scale)) {
            if (node.opType().equals("LayerNormalization") && node.attributes().containsKey("epsilon")) {
                return node.attributes().get("epsilon").f();
            }
            if (!node.opType().equals("Mul")) continue;
            OnnxNode div = graph.producer(node.input(node.input(0).equals(scale) ? 1 : 0));
            OnnxNode sqrt = div != null && div.opType().equals("Div") ? graph.producer(div.input(1)) : null;
            OnnxNode add = sqrt != null && sqrt.opType().equals("Sqrt") ? graph.producer(sqrt.input(0)) : null;
            if (add == null || !add.opType().equals("Add")) continue;
            for (String input : add.inputs()) {
                Float eps = scalar(input);
                if (eps != null) return eps;
            }
        }
        throw new EncoderFormatException(graph.source() + ": cannot find the ε of the LayerNorm scaled by '" + scale
                + "' (neither a LayerNormalization node nor Div(x − mean, Sqrt(variance + ε)) · weight)");
    }

    /** A float scalar from an initializer or a Constant node, or null. */
    private Float scalar(String value) {
        OnnxTensor t = graph.initializer(value);
        if (t == null && graph.producer(value) != null && graph.producer(value).opType().equals("Constant")) {
            OnnxNode.Attribute attribute = graph.producer(value).attributes().get("value");
            t = attribute == null ? null : attribute.t();
        }
        return t != null && t.dataType() == OnnxTensor.FLOAT && t.elements() == 1 ? t.floats()[0] : null;
    }

    /** Exact GELU: layer 0's intermediate output goes through Div (by √2) into Erf. */
    private UnaryOp activation() {
        String bias = prefix + "encoder.layer.0.intermediate.dense.bias";
        Set<OnnxNode> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (OnnxNode add : graph.consumers(bias)) {
            for (OnnxNode div : graph.consumers(add.output(0))) {
                if (!div.opType().equals("Div") || !seen.add(div)) continue;
                for (OnnxNode erf : graph.consumers(div.output(0))) {
                    if (erf.opType().equals("Erf")) return UnaryOp.GELU_ERF;
                }
            }
        }
        throw new EncoderFormatException(graph.source() + ": the activation after " + bias + " is not the exact GELU"
                + " (x / √2 → Erf); promptgrad reads ONNX BERT graphs with hidden_act gelu");
    }
}
