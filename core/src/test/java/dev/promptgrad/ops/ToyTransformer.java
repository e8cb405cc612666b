package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.RopeFrequencies;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Tensor;

import java.util.List;

/**
 * Test support: a two-block transformer built only from the ops, in float64, to check dLoss/dPrompt end to
 * end. Block 0 is GPT-2 style (LayerNorm, fused qkv Conv1D with bias, GELU MLP), block 1 Llama style
 * (RMSNorm, separate q/k/v without bias, RoPE, grouped-query attention, SwiGLU MLP), then a final LayerNorm
 * and an LM head tied to the token embeddings. The weights are random, not a trained model's.
 */
final class ToyTransformer {
    static final int VOCAB = 20, DIM = 16, HEADS = 4, KV_HEADS = 2, HEAD_SIZE = 4;
    static final int GPT_HIDDEN = 32, LLAMA_HIDDEN = 24, MAX_POSITIONS = 8;

    /** One batch: token ids [batch][T], the key mask [batch, P + T] (1 = attend) and one target per position. */
    record Batch(int[][] ids, Tensor keyMask, int[] targets) {
        int size() {
            return ids.length;
        }

        int length() {
            return ids[0].length;
        }
    }

    /** A Linear's weight and how it is stored; {@code dWFlops} is what a weight gradient would cost. */
    record LinearWeight(Tensor weight, Linear.Layout layout) {
        long dWFlops(int rows) {
            return 2L * rows * weight.dim(0) * weight.dim(1);
        }
    }

    final Tensor tokenTable;                 // (VOCAB, DIM), also the LM head
    final Tensor positionTable;              // (MAX_POSITIONS, DIM)
    // block 0, GPT-2 style; Conv1D weights are [in, out]
    final Tensor ln1Gamma, ln1Beta;          // (DIM)
    final Tensor attnWeight;                 // (DIM, 3·DIM)
    final Tensor attnBias;                   // (3·DIM)
    final Tensor projWeight;                 // (DIM, DIM)
    final Tensor projBias;                   // (DIM)
    final Tensor ln2Gamma, ln2Beta;          // (DIM)
    final Tensor fcWeight;                   // (DIM, GPT_HIDDEN)
    final Tensor fcBias;                     // (GPT_HIDDEN)
    final Tensor fcProjWeight;               // (GPT_HIDDEN, DIM)
    final Tensor fcProjBias;                 // (DIM)
    // block 1, Llama style; nn.Linear weights are [out, in]
    final Tensor attnNorm;                   // (DIM)
    final Tensor qWeight;                    // (HEADS·HEAD_SIZE, DIM)
    final Tensor kWeight, vWeight;           // (KV_HEADS·HEAD_SIZE, DIM)
    final Tensor oWeight;                    // (DIM, HEADS·HEAD_SIZE)
    final Tensor mlpNorm;                    // (DIM)
    final Tensor gateWeight, upWeight;       // (LLAMA_HIDDEN, DIM)
    final Tensor downWeight;                 // (DIM, LLAMA_HIDDEN)
    final Tensor finalGamma, finalBeta;      // (DIM)

    ToyTransformer(GradientCheck random) {
        tokenTable = random.random(1, VOCAB, DIM);
        positionTable = random.random(0.5, MAX_POSITIONS, DIM);
        ln1Gamma = random.around(1, 0.2, DIM);
        ln1Beta = random.random(0.2, DIM);
        attnWeight = random.random(0.5, DIM, 3 * DIM);
        attnBias = random.random(0.2, 3 * DIM);
        projWeight = random.random(0.3, DIM, DIM);
        projBias = random.random(0.2, DIM);
        ln2Gamma = random.around(1, 0.2, DIM);
        ln2Beta = random.random(0.2, DIM);
        fcWeight = random.random(0.4, DIM, GPT_HIDDEN);
        fcBias = random.random(0.2, GPT_HIDDEN);
        fcProjWeight = random.random(0.3, GPT_HIDDEN, DIM);
        fcProjBias = random.random(0.2, DIM);
        attnNorm = random.around(1, 0.2, DIM);
        qWeight = random.random(0.5, HEADS * HEAD_SIZE, DIM);
        kWeight = random.random(0.5, KV_HEADS * HEAD_SIZE, DIM);
        vWeight = random.random(0.5, KV_HEADS * HEAD_SIZE, DIM);
        oWeight = random.random(0.3, DIM, HEADS * HEAD_SIZE);
        mlpNorm = random.around(1, 0.2, DIM);
        gateWeight = random.random(0.5, LLAMA_HIDDEN, DIM);
        upWeight = random.random(0.5, LLAMA_HIDDEN, DIM);
        downWeight = random.random(0.3, DIM, LLAMA_HIDDEN);
        finalGamma = random.around(1, 0.2, DIM);
        finalBeta = random.random(0.2, DIM);
    }

    /** Every Linear of one forward pass: twelve, the LM head last. */
    List<LinearWeight> linears() {
        return List.of(
                new LinearWeight(attnWeight, Linear.Layout.IN_OUT), new LinearWeight(projWeight, Linear.Layout.IN_OUT),
                new LinearWeight(fcWeight, Linear.Layout.IN_OUT), new LinearWeight(fcProjWeight, Linear.Layout.IN_OUT),
                new LinearWeight(qWeight, Linear.Layout.OUT_IN), new LinearWeight(kWeight, Linear.Layout.OUT_IN),
                new LinearWeight(vWeight, Linear.Layout.OUT_IN), new LinearWeight(oWeight, Linear.Layout.OUT_IN),
                new LinearWeight(gateWeight, Linear.Layout.OUT_IN), new LinearWeight(upWeight, Linear.Layout.OUT_IN),
                new LinearWeight(downWeight, Linear.Layout.OUT_IN), new LinearWeight(tokenTable, Linear.Layout.OUT_IN));
    }

    /**
     * The mean cross-entropy of the batch with {@code prompt} [P, DIM] prepended. With {@code trainableWeights}
     * every Linear weight and bias becomes a parameter too (a fine-tuning run, to compare backward costs).
     */
    Variable loss(Tape tape, Variable prompt, Batch batch, boolean trainableWeights) {
        int size = batch.size();
        int length = prompt.value().dim(0) + batch.length();
        int[] ids = new int[size * batch.length()];
        int[] positions = new int[size * length];
        for (int b = 0; b < size; b++) {
            System.arraycopy(batch.ids()[b], 0, ids, b * batch.length(), batch.length());
            for (int t = 0; t < length; t++) positions[b * length + t] = t;
        }
        Variable tokens = Embedding.apply(tape, tokenTable, ids, size, batch.length());          // (B, T, DIM)
        Variable x = ConcatPrompt.apply(tape, prompt, tokens);                                     // (B, P + T, DIM)
        x = Add.apply(tape, x, Embedding.apply(tape, positionTable, positions, size, length));

        // block 0, GPT-2 style
        boolean train = trainableWeights;
        Variable h = LayerNorm.apply(tape, x, ln1Gamma, ln1Beta, 1e-5);
        Variable[] qkv = Split.apply(tape, conv1d(tape, h, attnWeight, attnBias, train), 3);    // 3 × (B, P + T, DIM)
        Variable attended = Attention.apply(tape, qkv[0], qkv[1], qkv[2], HEADS, HEADS, true, batch.keyMask(), null);
        x = Add.apply(tape, x, conv1d(tape, attended, projWeight, projBias, train));
        h = LayerNorm.apply(tape, x, ln2Gamma, ln2Beta, 1e-5);
        h = Activation.apply(tape, UnaryOp.GELU_TANH, conv1d(tape, h, fcWeight, fcBias, train));
        x = Add.apply(tape, x, conv1d(tape, h, fcProjWeight, fcProjBias, train));

        // block 1, Llama style
        h = RmsNorm.apply(tape, x, attnNorm, 1e-6);
        Variable q = linear(tape, h, qWeight, train);
        Variable k = linear(tape, h, kWeight, train);
        Variable v = linear(tape, h, vWeight, train);
        Rope.Settings rope = Rope.Settings.sequential(RopeLayout.ROTATE_HALF, RopeFrequencies.standard(10000, HEAD_SIZE),
                length);
        attended = Attention.apply(tape, q, k, v, HEADS, KV_HEADS, true, batch.keyMask(), rope);
        x = Add.apply(tape, x, linear(tape, attended, oWeight, train));
        h = RmsNorm.apply(tape, x, mlpNorm, 1e-6);
        Variable gated = SwiGlu.apply(tape, linear(tape, h, gateWeight, train), linear(tape, h, upWeight, train));
        x = Add.apply(tape, x, linear(tape, gated, downWeight, train));

        x = LayerNorm.apply(tape, x, finalGamma, finalBeta, 1e-5);
        Variable logits = linear(tape, x, tokenTable, train);                                     // (B, P + T, VOCAB)
        return CrossEntropy.apply(tape, logits, batch.targets());
    }

    /** GPT-2's Conv1D: x·W + b with W [in, out]. */
    private static Variable conv1d(Tape tape, Variable x, Tensor w, Tensor b, boolean trainable) {
        Variable product = Linear.apply(tape, x, weight(tape, w, trainable), Linear.Layout.IN_OUT);
        return BiasAdd.apply(tape, product, weight(tape, b, trainable));
    }

    /** nn.Linear without bias: x·Wᵀ with W [out, in]. */
    private static Variable linear(Tape tape, Variable x, Tensor w, boolean trainable) {
        return Linear.apply(tape, x, weight(tape, w, trainable), Linear.Layout.OUT_IN);
    }

    private static Variable weight(Tape tape, Tensor w, boolean trainable) {
        return trainable ? tape.parameter(w, "weight") : tape.constant(w, "weight");
    }
}
