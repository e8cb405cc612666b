package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.ops.Add;
import dev.promptgrad.ops.Attention;
import dev.promptgrad.ops.BiasAdd;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.ops.RmsNorm;
import dev.promptgrad.ops.Rope;
import dev.promptgrad.ops.SwiGlu;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.util.ArrayList;
import java.util.List;

/**
 * Llama as Hugging Face's {@code LlamaForCausalLM} computes it (also Mistral and Qwen2, and llama2.c
 * checkpoints): RMSNorm before attention and MLP, RoPE on q and k, grouped-query attention, a SwiGLU MLP,
 * a final RMSNorm and a tied or separate head. Projections are nn.Linear (weights stored [out, in]),
 * with biases only where the {@link LlamaConfig} says. Weight names are Hugging Face's.
 */
public final class Llama extends CausalTransformer {

    /** One decoder layer's frozen tensors; a bias is null when the configuration has none. */
    private record Layer(
            Tensor attentionNorm,              // (dim)
            Tensor wq, Tensor bq,              // (heads·headSize, dim), (heads·headSize)
            Tensor wk, Tensor bk,              // (kvHeads·headSize, dim), (kvHeads·headSize)
            Tensor wv, Tensor bv,              // (kvHeads·headSize, dim), (kvHeads·headSize)
            Tensor wo, Tensor bo,              // (dim, heads·headSize), (dim)
            Tensor mlpNorm,                    // (dim)
            Tensor gate, Tensor gateBias,      // (hidden, dim), (hidden)
            Tensor up, Tensor upBias,          // (hidden, dim), (hidden)
            Tensor down, Tensor downBias) {    // (dim, hidden), (dim)

        FusedLlamaBlock.Weights fused() {
            return new FusedLlamaBlock.Weights(attentionNorm, wq, bq, wk, bk, wv, bv, wo, bo, mlpNorm, gate, gateBias,
                    up, upBias, down, downBias);
        }
    }

    private final LlamaConfig config;
    private final RopeFrequencies ropeFrequencies;   // (headSize / 2), from rope_theta and rope_scaling
    private final Tensor tokenTable;   // (vocab, dim)
    private final Layer[] layers;      // (layers)
    private final Tensor finalNorm;    // (dim)
    private final Tensor head;         // (vocab, dim): tokenTable when tied

    /** Takes ownership of {@code weights}, which must hold {@link #weightSpecs}'s tensors. */
    public Llama(String name, LlamaConfig config, Weights weights) {
        super(name, weights, weightSpecs(config));
        this.config = config;
        this.ropeFrequencies = config.ropeFrequencies();
        tokenTable = weights.get("model.embed_tokens.weight");
        layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            String p = "model.layers." + l + ".";
            String a = p + "self_attn.";
            String m = p + "mlp.";
            boolean qkv = config.qkvBias();
            boolean mlp = config.mlpBias();
            layers[l] = new Layer(
                    weights.get(p + "input_layernorm.weight"),
                    weights.get(a + "q_proj.weight"), qkv ? weights.get(a + "q_proj.bias") : null,
                    weights.get(a + "k_proj.weight"), qkv ? weights.get(a + "k_proj.bias") : null,
                    weights.get(a + "v_proj.weight"), qkv ? weights.get(a + "v_proj.bias") : null,
                    weights.get(a + "o_proj.weight"), config.outputBias() ? weights.get(a + "o_proj.bias") : null,
                    weights.get(p + "post_attention_layernorm.weight"),
                    weights.get(m + "gate_proj.weight"), mlp ? weights.get(m + "gate_proj.bias") : null,
                    weights.get(m + "up_proj.weight"), mlp ? weights.get(m + "up_proj.bias") : null,
                    weights.get(m + "down_proj.weight"), mlp ? weights.get(m + "down_proj.bias") : null);
        }
        finalNorm = weights.get("model.norm.weight");
        head = config.tiedHead() ? tokenTable : weights.get("lm_head.weight");
    }

    /** Every tensor the configuration needs, with its shape, under Hugging Face's names. */
    public static List<WeightSpec> weightSpecs(LlamaConfig c) {
        int dim = c.dim();
        int qWidth = c.heads() * c.headSize();
        int kvWidth = c.kvWidth();
        List<WeightSpec> specs = new ArrayList<>();
        specs.add(WeightSpec.of("model.embed_tokens.weight", c.vocabSize(), dim));
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            specs.add(WeightSpec.of(p + "input_layernorm.weight", dim));
            projection(specs, p + "self_attn.q_proj", qWidth, dim, c.qkvBias());
            projection(specs, p + "self_attn.k_proj", kvWidth, dim, c.qkvBias());
            projection(specs, p + "self_attn.v_proj", kvWidth, dim, c.qkvBias());
            projection(specs, p + "self_attn.o_proj", dim, qWidth, c.outputBias());
            specs.add(WeightSpec.of(p + "post_attention_layernorm.weight", dim));
            projection(specs, p + "mlp.gate_proj", c.hidden(), dim, c.mlpBias());
            projection(specs, p + "mlp.up_proj", c.hidden(), dim, c.mlpBias());
            projection(specs, p + "mlp.down_proj", dim, c.hidden(), c.mlpBias());
        }
        specs.add(WeightSpec.of("model.norm.weight", dim));
        if (!c.tiedHead()) specs.add(WeightSpec.of("lm_head.weight", c.vocabSize(), dim));
        return specs;
    }

    private static void projection(List<WeightSpec> specs, String name, int out, int in, boolean bias) {
        specs.add(WeightSpec.of(name + ".weight", out, in));
        if (bias) specs.add(WeightSpec.of(name + ".bias", out));
    }

    public LlamaConfig config() {
        return config;
    }

    @Override
    public String architecture() {
        return config.modelType();
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int dim() {
        return config.dim();
    }

    @Override
    public int layers() {
        return config.layers();
    }

    @Override
    public int heads() {
        return config.heads();
    }

    @Override
    public int contextLength() {
        return config.contextLength();
    }

    @Override
    public Tensor embeddingTable() {
        return tokenTable;
    }

    @Override
    int kvWidth() {
        return config.kvWidth();
    }

    @Override
    Tensor head() {
        return head;
    }

    @Override
    Variable blocks(Tape tape, Variable embeddings, Tensor keyMask, int[] keyPositions, KvCache cache,
                    HiddenStateHook hook, int outputs) {
        int start = checkInputs(embeddings, keyMask, keyPositions, cache);
        int length = embeddings.value().dim(1);
        double eps = config.rmsNormEps();
        // PyTorch (HF LlamaModel): position_ids = torch.arange(past_seen_tokens, past_seen_tokens + T)
        Rope.Settings rope = keyPositions == null
                ? Rope.Settings.sequential(config.ropeLayout(), ropeFrequencies, start + length)
                : new Rope.Settings(config.ropeLayout(), ropeFrequencies, keyPositions);

        Variable x = embeddings;                                                              // (batch, T, dim)
        if (hook != null) hook.block(0, x.value());
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            if (cache == null) {
                // the same layer as below, as one op that keeps only what the frozen backward reads; the last
                // layer computes only the positions asked for
                int queries = l == layers.length - 1 && hook == null ? outputs : length;
                x = FusedLlamaBlock.apply(tape, x, w.fused(), config.heads(), config.kvHeads(), config.headSize(),
                        eps, rope, keyMask, queries);
                if (hook != null) hook.block(l + 1, x.value());
                continue;
            }
            // PyTorch (HF LlamaDecoderLayer):
            //   hidden_states = residual + self.self_attn(self.input_layernorm(hidden_states))
            Variable h = RmsNorm.apply(tape, x, w.attentionNorm, eps);
            Variable q = linear(tape, h, w.wq, w.bq);                           // (batch, T, heads·headSize)
            Variable k = linear(tape, h, w.wk, w.bk);                           // (batch, T, kvHeads·headSize)
            Variable v = linear(tape, h, w.wv, w.bv);
            if (cache != null) {
                k = cache.appendKeys(tape, l, k);                               // (batch, keys, kvHeads·headSize)
                v = cache.appendValues(tape, l, v);
            }
            Variable attended = Attention.apply(tape, q, k, v, config.heads(), config.kvHeads(), true, keyMask, rope);
            x = Add.apply(tape, x, linear(tape, attended, w.wo, w.bo));
            // PyTorch (HF LlamaDecoderLayer):
            //   hidden_states = residual + self.mlp(self.post_attention_layernorm(hidden_states))
            h = RmsNorm.apply(tape, x, w.mlpNorm, eps);
            // PyTorch (HF LlamaMLP): self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
            Variable gated = SwiGlu.apply(tape, linear(tape, h, w.gate, w.gateBias), linear(tape, h, w.up, w.upBias));
            x = Add.apply(tape, x, linear(tape, gated, w.down, w.downBias));
            if (hook != null) hook.block(l + 1, x.value());
        }
        if (cache != null) cache.advance(length);
        return x;
    }

    @Override
    Variable finalNorm(Tape tape, Variable x) {
        // PyTorch (HF LlamaModel): hidden_states = self.norm(hidden_states)
        return RmsNorm.apply(tape, x, finalNorm, config.rmsNormEps());
    }

    /** nn.Linear: x·Wᵀ (+ b) with W stored [out, in]; {@code bias} may be null. */
    private static Variable linear(Tape tape, Variable x, Tensor weight, Tensor bias) {
        Variable y = Linear.apply(tape, x, weight, Linear.Layout.OUT_IN);
        return bias == null ? y : BiasAdd.apply(tape, y, bias);
    }
}
