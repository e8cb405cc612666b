package dev.promptgrad.model;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

/**
 * One GPT-2 block with frozen weights as a single tape op (llm.c's per-layer forward/backward pair), the same
 * arithmetic as composing core's ops but with less memory traffic: biases and residual adds go into the GEMMs'
 * outputs, q, k and v are split by one permute into three planes of (batch entry, head) matrices, so that each
 * attention product is one strided-batched GEMM over every batch entry and head, and only what the frozen backward
 * reads is kept (LayerNorm statistics, q|k|v by head, attention probabilities, the residual after attention and the
 * MLP's pre-activation); the normalised inputs, attention context and GELU output are temporaries that the next
 * layer reuses ({@link Workspace#mark()}). Used for full passes without a KV cache; derivations: docs/autograd.md.
 */
final class FusedGpt2Block implements Function {

    /** One block's frozen tensors, Conv1D weights stored [in, out]. */
    record Weights(Tensor ln1Gamma, Tensor ln1Beta, Tensor attnWeight, Tensor attnBias, Tensor projWeight,
                   Tensor projBias, Tensor ln2Gamma, Tensor ln2Beta, Tensor fcWeight, Tensor fcBias,
                   Tensor fcProjWeight, Tensor fcProjBias) {
    }

    /** (batch, T, 3, heads, headSize) → (3, batch, heads, T, headSize), and back. */
    private static final int[] SPLIT_HEADS = {2, 0, 3, 1, 4}, MERGE_HEADS = {1, 3, 0, 2, 4};

    private final Tape tape;
    private final Weights w;
    private final UnaryOp activation;
    private final int batch, length, heads, headSize, dim, hidden;
    private final int queries;       // the last `queries` positions of each sequence get an output
    private final int first;         // length − queries: the first position with an output
    private final double scale;      // 1/√headSize
    private final Tensor x;          // (batch·T, dim): the block's input
    private final Tensor mean1, rstd1;   // (batch·T): LayerNorm₁ statistics
    private final Tensor mean2, rstd2;   // (batch·queries): LayerNorm₂ statistics
    private final Tensor qkvHeads;   // (3, batch, heads, T, headSize): the q plane, then k's, then v's
    private final Tensor probs;      // (batch, heads, queries, T)
    private final Tensor x1;         // (batch·queries, dim): x + attention at the output positions
    private final Tensor pre;        // (batch·queries, hidden): the MLP's pre-activation

    private FusedGpt2Block(Tape tape, Weights w, UnaryOp activation, int batch, int length, int queries, int heads,
                           Tensor x, Tensor mean1, Tensor rstd1, Tensor mean2, Tensor rstd2, Tensor qkvHeads,
                           Tensor probs, Tensor x1, Tensor pre) {
        this.tape = tape;
        this.w = w;
        this.activation = activation;
        this.batch = batch;
        this.length = length;
        this.queries = queries;
        this.first = length - queries;
        this.heads = heads;
        this.dim = x.dim(-1);
        this.headSize = dim / heads;
        this.hidden = pre.dim(-1);
        this.scale = 1 / Math.sqrt(headSize);
        this.x = x;
        this.mean1 = mean1;
        this.rstd1 = rstd1;
        this.mean2 = mean2;
        this.rstd2 = rstd2;
        this.qkvHeads = qkvHeads;
        this.probs = probs;
        this.x1 = x1;
        this.pre = pre;
    }

    /**
     * The block on x [batch, T, dim], its output [batch, queries, dim] at the last {@code queries} positions of each
     * sequence (T for all of them): keys and values come from every position, but queries, attention, projection
     * and MLP run at those rows alone, as a last block whose other rows reach no loss needs.
     * {@code keyMask} [batch, T] (1 = attend) may be null.
     */
    static Variable apply(Tape tape, Variable input, Weights w, int heads, double eps, UnaryOp activation,
                          Tensor keyMask, int queries) {
        Backend backend = tape.backend();
        Tensor x = input.value();
        int batch = x.dim(0), length = x.dim(1), dim = x.dim(2), rows = batch * length;
        if (queries < 1 || queries > length) {
            throw new IllegalArgumentException("gpt2 block: " + queries + " output positions of " + length);
        }
        int first = length - queries, outRows = batch * queries;
        int hidden = w.fcWeight().dim(1), headSize = dim / heads;
        Tensor flat = x.view(rows, dim);
        boolean saveStatistics = input.requiresGrad();
        Tensor mean1 = saveStatistics ? tape.allocate(rows) : null, rstd1 = saveStatistics ? tape.allocate(rows) : null;
        Tensor mean2 = saveStatistics ? tape.allocate(outRows) : null;
        Tensor rstd2 = saveStatistics ? tape.allocate(outRows) : null;
        Tensor qkvHeads = tape.allocate(3, batch, heads, length, headSize);
        Tensor probs = tape.allocate(batch, heads, queries, length);
        Tensor x1 = tape.allocate(outRows, dim);
        Tensor pre = tape.allocate(outRows, hidden);
        Tensor y = tape.allocate(batch, queries, dim);
        Workspace.Mark temporaries = tape.workspace().mark();

        // PyTorch (HF GPT2Block): h = self.ln_1(hidden_states)
        Tensor h = tape.allocate(rows, dim);
        backend.layerNorm(flat, w.ln1Gamma(), w.ln1Beta(), eps, h, mean1, rstd1);
        // PyTorch (HF GPT2Attention): query, key, value = self.c_attn(h).split(self.split_size, dim=2)
        Tensor qkv = tape.allocate(rows, 3 * dim);
        backend.gemm(Gemm.of(rows, 3 * dim, dim, false, false), h, w.attnWeight(), qkv);
        backend.add(qkv, w.attnBias(), qkv);
        // PyTorch: q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v)), all three in one permute
        backend.permute(qkv.view(batch, length, 3, heads, headSize), SPLIT_HEADS, qkvHeads);
        // PyTorch: probs = softmax(q @ k.transpose(-1, -2) / sqrt(D) + causal and padding masks)
        int pairs = batch * heads;
        long headStride = (long) length * headSize;   // between consecutive (batch entry, head) matrices of a plane
        Gemm scores = new Gemm(pairs, queries, length, headSize, false, true, headStride, headStride,
                (long) queries * length, 1f, 0f);
        backend.gemm(scores, queryRows(qkvHeads, first, queries), plane(qkvHeads, 1), probs);
        backend.softmax(probs, 1 / Math.sqrt(headSize), true, keyMask, probs);
        // PyTorch: out = (probs @ v).transpose(1, 2).reshape(B, T, H * D)
        Tensor contextHeads = tape.allocate(batch, heads, queries, headSize);
        backend.gemm(Gemm.batched(pairs, queries, headSize, length, false, false), probs, plane(qkvHeads, 2),
                contextHeads);
        Tensor context = tape.allocate(batch, queries, heads, headSize);
        backend.permute(contextHeads, new int[]{0, 2, 1, 3}, context);
        // PyTorch (HF GPT2Block): x1 = hidden_states + self.c_proj(out), the residual and bias first
        Tensor residual = flat;
        if (queries < length) {
            residual = x1;
            OutputPositions.copyTails(backend, x, first, x1);
        }
        backend.add(residual, w.projBias(), x1);
        backend.gemm(Gemm.of(outRows, dim, dim, false, false).scaled(1f, 1f), context.view(outRows, dim),
                w.projWeight(), x1);
        // PyTorch (HF GPT2MLP): y = x1 + self.c_proj(self.act(self.c_fc(self.ln_2(x1))))
        Tensor h2 = h.view(-1).slice(0, outRows * dim).view(outRows, dim);
        backend.layerNorm(x1, w.ln2Gamma(), w.ln2Beta(), eps, h2, mean2, rstd2);
        backend.gemm(Gemm.of(outRows, hidden, dim, false, false), h2, w.fcWeight(), pre);
        backend.add(pre, w.fcBias(), pre);
        Tensor act = tape.allocate(outRows, hidden);
        backend.unary(activation, pre, act);
        Tensor yFlat = y.view(outRows, dim);
        backend.add(x1, w.fcProjBias(), yFlat);
        backend.gemm(Gemm.of(outRows, dim, hidden, false, false).scaled(1f, 1f), act, w.fcProjWeight(), yFlat);
        tape.workspace().rewind(temporaries);

        return tape.record(new FusedGpt2Block(tape, w, activation, batch, length, queries, heads, flat, mean1, rstd1,
                mean2, rstd2, qkvHeads, probs, x1, pre), y, input);
    }

    /** Plane p (q: 0, k: 1, v: 2) of (3, batch, heads, T, headSize) as batch·heads matrices (T, headSize). */
    private static Tensor plane(Tensor qkvHeads, int p) {
        Tensor heads = qkvHeads.select(p);
        return heads.view(heads.dim(0) * heads.dim(1), heads.dim(2), heads.dim(3));
    }

    /** Rows [first, first + count) of every query matrix (see {@link OutputPositions#headRows}). */
    private static Tensor queryRows(Tensor qkvHeads, int first, int count) {
        return OutputPositions.headRows(plane(qkvHeads, 0), first, count);
    }

    @Override
    public String name() {
        return "gpt2_block";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        Backend backend = tape.backend();
        int rows = batch * length, outRows = batch * queries;
        Tensor dY = dOut.view(outRows, dim);
        Tensor dX = grads.into(0).view(rows, dim);
        Workspace.Mark temporaries = tape.workspace().mark();

        // MLP: y = x1 + act(pre)·Wfp + b
        // (1) dAct = dY·Wfpᵀ, then dPre = dAct·act'(pre) in place
        Tensor dPre = tape.allocate(outRows, hidden);
        backend.gemm(Gemm.of(outRows, hidden, dim, false, true), dY, w.fcProjWeight(), dPre);
        backend.unaryBackward(activation, pre, dPre, dPre);
        // (2) dH2 = dPre·Wfcᵀ, (3) dX1 = LayerNorm₂ backward of dH2, plus dY through the residual
        Tensor dH = tape.allocate(rows, dim);
        Tensor dH2 = dH.view(-1).slice(0, outRows * dim).view(outRows, dim);
        backend.gemm(Gemm.of(outRows, dim, hidden, false, true), dPre, w.fcWeight(), dH2);
        Tensor dX1 = tape.allocate(outRows, dim);
        backend.layerNormBackward(x1, w.ln2Gamma(), mean2, rstd2, dH2, dX1);
        backend.add(dX1, dY, dX1);

        // attention: x1 = x + context·Wp + b at the output positions
        // (4) dContext = dX1·Wpᵀ, by head
        backend.gemm(Gemm.of(outRows, dim, dim, false, true), dX1, w.projWeight(), dH2);
        Tensor dContextHeads = tape.allocate(batch, heads, queries, headSize);
        backend.permute(dH2.view(batch, queries, heads, headSize), new int[]{0, 2, 1, 3}, dContextHeads);
        Tensor dScores = tape.allocate(batch, heads, queries, length);
        Tensor dQkvHeads = tape.allocate(3, batch, heads, length, headSize);
        int pairs = batch * heads;   // every product below is one strided-batched GEMM over (batch entry, head)
        // (5) dProbs = dContext·Vᵀ, (6) dV = probsᵀ·dContext
        backend.gemm(Gemm.batched(pairs, queries, length, headSize, false, true), dContextHeads, plane(qkvHeads, 2),
                dScores);
        backend.gemm(Gemm.batched(pairs, length, headSize, queries, true, false), probs, dContextHeads,
                plane(dQkvHeads, 2));
        // (7) dScores = scale · probs · (dProbs − Σ probs·dProbs), in place
        backend.softmaxBackward(probs, dScores, scale, dScores);
        long headStride = (long) length * headSize, scoreStride = (long) queries * length;
        // (8) dQ = dScores·K at the output positions, 0 before them; (9) dK = dScoresᵀ·Q
        if (first > 0) backend.fill(plane(dQkvHeads, 0), 0);
        backend.gemm(new Gemm(pairs, queries, headSize, length, false, false, scoreStride, headStride, headStride,
                1f, 0f), dScores, plane(qkvHeads, 1), queryRows(dQkvHeads, first, queries));
        backend.gemm(new Gemm(pairs, length, headSize, queries, true, false, scoreStride, headStride, headStride,
                1f, 0f), dScores, queryRows(qkvHeads, first, queries), plane(dQkvHeads, 1));
        // (10) back to rows of q|k|v, (11) dH1 = dQkv·Wattnᵀ, (12) dX = LayerNorm₁ backward of dH1, plus dX1 at the
        // output positions
        Tensor dQkv = tape.allocate(batch, length, 3, heads, headSize);
        backend.permute(dQkvHeads, MERGE_HEADS, dQkv);
        backend.gemm(Gemm.of(rows, dim, 3 * dim, false, true), dQkv.view(rows, 3 * dim), w.attnWeight(), dH);
        backend.layerNormBackward(x, w.ln1Gamma(), mean1, rstd1, dH, dX);
        OutputPositions.addTails(backend, dX, dX1, batch);
        tape.workspace().rewind(temporaries);
    }
}
