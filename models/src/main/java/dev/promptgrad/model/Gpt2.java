package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.ops.Activation;
import dev.promptgrad.ops.Add;
import dev.promptgrad.ops.Attention;
import dev.promptgrad.ops.BiasAdd;
import dev.promptgrad.ops.Embedding;
import dev.promptgrad.ops.LayerNorm;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.ops.Split;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.util.ArrayList;
import java.util.List;

/**
 * GPT-2 as Hugging Face's {@code GPT2LMHeadModel} computes it: learned position embeddings, pre-LayerNorm
 * blocks with a fused q|k|v Conv1D (weights stored [in, out]), GELU MLP, final LayerNorm and a head tied to
 * the token embeddings (or a separate {@code lm_head.weight}). Inference and training share this one pass;
 * dropout is off. Weight names are Hugging Face's without the {@code transformer.} prefix.
 */
public final class Gpt2 extends CausalTransformer {

    private final Gpt2Config config;
    private final Tensor tokenTable;      // (vocab, dim)
    private final Tensor positionTable;   // (contextLength, dim)
    private final FusedGpt2Block.Weights[] blocks;   // (layers), Conv1D weights [in, out]
    private final Tensor finalGamma;      // (dim)
    private final Tensor finalBeta;       // (dim)
    private final Tensor head;            // (vocab, dim): tokenTable when tied

    /** Takes ownership of {@code weights}, which must hold {@link #weightSpecs}'s tensors. */
    public Gpt2(String name, Gpt2Config config, Weights weights) {
        super(name, weights, weightSpecs(config));
        this.config = config;
        tokenTable = weights.get("wte.weight");
        positionTable = weights.get("wpe.weight");
        blocks = new FusedGpt2Block.Weights[config.layers()];
        for (int l = 0; l < blocks.length; l++) {
            String p = "h." + l + ".";
            blocks[l] = new FusedGpt2Block.Weights(
                    weights.get(p + "ln_1.weight"), weights.get(p + "ln_1.bias"),
                    weights.get(p + "attn.c_attn.weight"), weights.get(p + "attn.c_attn.bias"),
                    weights.get(p + "attn.c_proj.weight"), weights.get(p + "attn.c_proj.bias"),
                    weights.get(p + "ln_2.weight"), weights.get(p + "ln_2.bias"),
                    weights.get(p + "mlp.c_fc.weight"), weights.get(p + "mlp.c_fc.bias"),
                    weights.get(p + "mlp.c_proj.weight"), weights.get(p + "mlp.c_proj.bias"));
        }
        finalGamma = weights.get("ln_f.weight");
        finalBeta = weights.get("ln_f.bias");
        head = config.tiedHead() ? tokenTable : weights.get("lm_head.weight");
    }

    /** Every tensor the configuration needs, with its shape, under Hugging Face's names (no prefix). */
    public static List<WeightSpec> weightSpecs(Gpt2Config c) {
        int dim = c.dim();
        List<WeightSpec> specs = new ArrayList<>();
        specs.add(WeightSpec.of("wte.weight", c.vocabSize(), dim));
        specs.add(WeightSpec.of("wpe.weight", c.contextLength(), dim));
        for (int l = 0; l < c.layers(); l++) {
            String p = "h." + l + ".";
            specs.add(WeightSpec.of(p + "ln_1.weight", dim));
            specs.add(WeightSpec.of(p + "ln_1.bias", dim));
            specs.add(WeightSpec.of(p + "attn.c_attn.weight", dim, 3 * dim));
            specs.add(WeightSpec.of(p + "attn.c_attn.bias", 3 * dim));
            specs.add(WeightSpec.of(p + "attn.c_proj.weight", dim, dim));
            specs.add(WeightSpec.of(p + "attn.c_proj.bias", dim));
            specs.add(WeightSpec.of(p + "ln_2.weight", dim));
            specs.add(WeightSpec.of(p + "ln_2.bias", dim));
            specs.add(WeightSpec.of(p + "mlp.c_fc.weight", dim, c.hidden()));
            specs.add(WeightSpec.of(p + "mlp.c_fc.bias", c.hidden()));
            specs.add(WeightSpec.of(p + "mlp.c_proj.weight", c.hidden(), dim));
            specs.add(WeightSpec.of(p + "mlp.c_proj.bias", dim));
        }
        specs.add(WeightSpec.of("ln_f.weight", dim));
        specs.add(WeightSpec.of("ln_f.bias", dim));
        if (!c.tiedHead()) specs.add(WeightSpec.of("lm_head.weight", c.vocabSize(), dim));
        return specs;
    }

    public Gpt2Config config() {
        return config;
    }

    @Override
    public String architecture() {
        return "gpt2";
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
        return config.dim();
    }

    @Override
    Tensor head() {
        return head;
    }

    @Override
    Variable blocks(Tape tape, Variable embeddings, Tensor keyMask, int[] keyPositions, KvCache cache,
                    HiddenStateHook hook, int outputs) {
        int start = checkInputs(embeddings, keyMask, keyPositions, cache);
        int batch = embeddings.value().dim(0);
        int length = embeddings.value().dim(1);
        int[] positions = rowPositions(keyPositions, batch, start, length);                   // (batch, T)
        double eps = config.layerNormEps();

        // PyTorch (HF GPT2Model): hidden_states = inputs_embeds + self.wpe(position_ids)
        Variable x = Add.apply(tape, embeddings, Embedding.apply(tape, positionTable, positions, batch, length));
        if (hook != null) hook.block(0, x.value());
        for (int l = 0; l < blocks.length; l++) {
            FusedGpt2Block.Weights b = blocks[l];
            if (cache == null) {
                // the same block as below, as one op that keeps only what the frozen backward reads; the last block
                // computes only the positions asked for
                int queries = l == blocks.length - 1 && hook == null ? outputs : length;
                x = FusedGpt2Block.apply(tape, x, b, config.heads(), eps, config.activation(), keyMask, queries);
                if (hook != null) hook.block(l + 1, x.value());
                continue;
            }
            // PyTorch (HF GPT2Block): hidden_states = residual + self.attn(self.ln_1(hidden_states))
            Variable h = LayerNorm.apply(tape, x, b.ln1Gamma(), b.ln1Beta(), eps);
            // PyTorch (HF GPT2Attention): query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
            Variable[] qkv = Split.apply(tape, conv1d(tape, h, b.attnWeight(), b.attnBias()), 3);   // 3 × (batch, T, dim)
            Variable k = cache.appendKeys(tape, l, qkv[1]);                                     // (batch, keys, dim)
            Variable v = cache.appendValues(tape, l, qkv[2]);
            int heads = config.heads();
            Variable attended = Attention.apply(tape, qkv[0], k, v, heads, heads, true, keyMask, null);
            x = Add.apply(tape, x, conv1d(tape, attended, b.projWeight(), b.projBias()));
            // PyTorch (HF GPT2Block): hidden_states = residual + self.mlp(self.ln_2(hidden_states))
            h = LayerNorm.apply(tape, x, b.ln2Gamma(), b.ln2Beta(), eps);
            // PyTorch (HF GPT2MLP): self.c_proj(self.act(self.c_fc(hidden_states)))
            h = conv1d(tape, h, b.fcWeight(), b.fcBias());                                           // (batch, T, hidden)
            h = Activation.apply(tape, config.activation(), h);
            x = Add.apply(tape, x, conv1d(tape, h, b.fcProjWeight(), b.fcProjBias()));
            if (hook != null) hook.block(l + 1, x.value());
        }
        if (cache != null) cache.advance(length);
        return x;
    }

    @Override
    Variable finalNorm(Tape tape, Variable x) {
        // PyTorch (HF GPT2Model): hidden_states = self.ln_f(hidden_states)
        return LayerNorm.apply(tape, x, finalGamma, finalBeta, config.layerNormEps());
    }

    /** Hugging Face's Conv1D: x·W + b with W stored [in, out]. */
    private static Variable conv1d(Tape tape, Variable x, Tensor weight, Tensor bias) {
        // PyTorch (HF Conv1D): x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return BiasAdd.apply(tape, Linear.apply(tape, x, weight, Linear.Layout.IN_OUT), bias);
    }
}
