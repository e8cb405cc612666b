package dev.promptgrad.cuda;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.ops.Activation;
import dev.promptgrad.ops.Add;
import dev.promptgrad.ops.Attention;
import dev.promptgrad.ops.BiasAdd;
import dev.promptgrad.ops.ConcatPrompt;
import dev.promptgrad.ops.Embedding;
import dev.promptgrad.ops.LayerNorm;
import dev.promptgrad.ops.Linear;
import dev.promptgrad.ops.Reshape;
import dev.promptgrad.ops.Split;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Weights;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * GPT-2 (Hugging Face's GPT2LMHeadModel, tied head, gelu_new) with a PEFT soft prompt, written with core's ops for
 * the device check: the golden-fixture test runs it on the CPU and on CUDA (the step benchmark uses the models
 * module's GPT-2 itself, see models' DeviceStepBenchmark).
 * It is test code standing in for the models module's GPT-2, with Hugging Face's weight names; no tokenizer,
 * cache or generation.
 */
final class Gpt2Stack implements AutoCloseable {

    /** The sizes of a GPT-2 (n_embd, n_layer, n_head, …); the MLP is 4·dim wide. */
    record Shape(String name, int vocab, int positions, int dim, int layers, int heads, double eps) {

        int hidden() {
            return 4 * dim;
        }
    }

    final Shape shape;
    final Weights weights;

    private Gpt2Stack(Shape shape, Weights weights) {
        this.shape = shape;
        this.weights = weights;
    }

    /**
     * Random weights as GPT2Config's initialisation draws them: LayerNorm gains 1 and biases 0, every bias 0, every
     * other matrix with standard deviation 0.02 (uniform here rather than normal, which a timing does not notice).
     */
    static Gpt2Stack random(Backend backend, Shape shape, long seed) {
        Weights w = new Weights(backend, shape.name());
        try {
            SplittableRandom rnd = new SplittableRandom(seed);
            int d = shape.dim();
            put(w, "transformer.wte.weight", uniform(rnd, shape.vocab() * d), shape.vocab(), d);
            put(w, "transformer.wpe.weight", uniform(rnd, shape.positions() * d), shape.positions(), d);
            for (int layer = 0; layer < shape.layers(); layer++) {
                String p = "transformer.h." + layer + ".";
                put(w, p + "ln_1.weight", constant(d, 1), d);
                put(w, p + "ln_1.bias", constant(d, 0), d);
                put(w, p + "attn.c_attn.weight", uniform(rnd, d * 3 * d), d, 3 * d);
                put(w, p + "attn.c_attn.bias", constant(3 * d, 0), 3 * d);
                put(w, p + "attn.c_proj.weight", uniform(rnd, d * d), d, d);
                put(w, p + "attn.c_proj.bias", constant(d, 0), d);
                put(w, p + "ln_2.weight", constant(d, 1), d);
                put(w, p + "ln_2.bias", constant(d, 0), d);
                put(w, p + "mlp.c_fc.weight", uniform(rnd, d * shape.hidden()), d, shape.hidden());
                put(w, p + "mlp.c_fc.bias", constant(shape.hidden(), 0), shape.hidden());
                put(w, p + "mlp.c_proj.weight", uniform(rnd, shape.hidden() * d), shape.hidden(), d);
                put(w, p + "mlp.c_proj.bias", constant(d, 0), d);
            }
            put(w, "transformer.ln_f.weight", constant(d, 1), d);
            put(w, "transformer.ln_f.bias", constant(d, 0), d);
            return new Gpt2Stack(shape, w);
        } catch (RuntimeException | OutOfMemoryError e) {
            w.close();
            throw e;
        }
    }

    /** Weights read from a checkpoint, by Hugging Face name; tensors the model does not use are ignored. */
    static Gpt2Stack load(Backend backend, Shape shape, Map<String, FixtureTensors.Entry> tensors) {
        Weights w = new Weights(backend, shape.name());
        try {
            for (Map.Entry<String, FixtureTensors.Entry> e : tensors.entrySet()) {
                String name = e.getKey();
                boolean used = name.startsWith("transformer.") && !name.endsWith(".attn.bias")
                        && !name.endsWith(".attn.masked_bias");
                if (used) put(w, name, e.getValue().values(), e.getValue().shape());
            }
            return new Gpt2Stack(shape, w);
        } catch (RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /**
     * Logits [batch, P + T, vocab] for the prompt [P, dim] followed by token ids [batch, T] (row-major),
     * PEFT's CAUSAL_LM prompt tuning: virtual tokens first, positions 0 … P + T − 1, padded keys masked by
     * {@code keyMask} [batch, P + T] (null: no padding).
     */
    Variable logits(Tape tape, Variable prompt, int[] ids, int batch, int length, Tensor keyMask) {
        int d = shape.dim(), total = prompt.value().dim(0) + length;
        // PyTorch (PEFT): inputs_embeds = torch.cat((prompts, self.word_embeddings(input_ids)), dim=1)
        Variable tokens = Embedding.apply(tape, weights.get("transformer.wte.weight"), ids, batch, length);
        Variable embedded = ConcatPrompt.apply(tape, prompt, tokens);                          // (B, P+T, d)
        // PyTorch (HF): hidden_states = inputs_embeds + self.wpe(position_ids), position_ids = arange(P + T)
        Tensor positions = weights.get("transformer.wpe.weight").slice(0, total).view(total * d);
        Variable h = Reshape.apply(tape, BiasAdd.apply(tape, Reshape.apply(tape, embedded, batch, total * d), positions),
                batch, total, d);
        for (int layer = 0; layer < shape.layers(); layer++) h = block(tape, h, "transformer.h." + layer + ".", keyMask);
        Variable last = LayerNorm.apply(tape, h, weights.get("transformer.ln_f.weight"),
                weights.get("transformer.ln_f.bias"), shape.eps());
        // PyTorch: logits = self.lm_head(hidden_states), lm_head.weight tied to wte [vocab, d]
        return Linear.apply(tape, last, weights.get("transformer.wte.weight"), Linear.Layout.OUT_IN);
    }

    /** HF GPT2Block: h + attn(ln_1(h)), then + mlp(ln_2(·)). */
    private Variable block(Tape tape, Variable h, String p, Tensor keyMask) {
        Variable a = LayerNorm.apply(tape, h, weights.get(p + "ln_1.weight"), weights.get(p + "ln_1.bias"), shape.eps());
        Variable qkv = conv1d(tape, a, p + "attn.c_attn");
        Variable[] parts = Split.apply(tape, qkv, 3);
        Variable context = Attention.apply(tape, parts[0], parts[1], parts[2], shape.heads(), shape.heads(), true,
                keyMask, null);
        Variable h1 = Add.apply(tape, h, conv1d(tape, context, p + "attn.c_proj"));
        Variable m = LayerNorm.apply(tape, h1, weights.get(p + "ln_2.weight"), weights.get(p + "ln_2.bias"), shape.eps());
        // PyTorch (HF): gelu_new(self.c_fc(x))
        Variable act = Activation.apply(tape, UnaryOp.GELU_TANH, conv1d(tape, m, p + "mlp.c_fc"));
        return Add.apply(tape, h1, conv1d(tape, act, p + "mlp.c_proj"));
    }

    /** HF's Conv1D: x · W + b with W stored [in, out]. */
    private Variable conv1d(Tape tape, Variable x, String name) {
        return BiasAdd.apply(tape, Linear.apply(tape, x, weights.get(name + ".weight"), Linear.Layout.IN_OUT),
                weights.get(name + ".bias"));
    }

    /**
     * Hugging Face's causal-LM shift: position t of sequence b predicts label t + 1, and the last position
     * predicts nothing. {@code labels} is [batch][P + T] with -100 for the prompt and unlabelled positions.
     */
    static int[] shiftedTargets(int[][] labels) {
        int total = labels[0].length;
        int[] targets = new int[labels.length * total];
        for (int b = 0; b < labels.length; b++) {
            for (int t = 0; t < total; t++) targets[b * total + t] = t + 1 < total ? labels[b][t + 1] : -100;
        }
        return targets;
    }

    @Override
    public void close() {
        weights.close();
    }

    private static void put(Weights w, String name, float[] values, int... shape) {
        w.put(name, values, shape);
    }

    private static float[] uniform(SplittableRandom rnd, int n) {
        float bound = (float) (0.02 * Math.sqrt(3));   // uniform on [−b, b] has standard deviation b/√3 = 0.02
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((rnd.nextDouble() * 2 - 1) * bound);
        return v;
    }

    private static float[] constant(int n, float value) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, value);
        return v;
    }
}
