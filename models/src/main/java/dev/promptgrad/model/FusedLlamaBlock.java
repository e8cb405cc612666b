package dev.promptgrad.model;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.ops.Rope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

/**
 * One Llama decoder layer with frozen weights as a single tape op, the same arithmetic as composing core's ops
 * (RMSNorm, nn.Linear with optional biases, RoPE, grouped-query attention, SwiGLU) with less memory: biases and
 * residuals go into the GEMMs' outputs, a query head reads its key/value head through a zero batch stride instead
 * of a repeated copy, and only what the frozen backward reads is kept (RMSNorm statistics, rotated q and k, v, the
 * attention probabilities, the residual after attention, the MLP's gate and up); the rest are temporaries the next
 * layer reuses. Used for full passes without a KV cache; derivations: docs/autograd.md#the-fused-llama-block.
 */
final class FusedLlamaBlock implements Function {

    /** One layer's frozen tensors, nn.Linear weights stored [out, in]; a bias is null when the model has none. */
    record Weights(Tensor attentionNorm, Tensor wq, Tensor bq, Tensor wk, Tensor bk, Tensor wv, Tensor bv, Tensor wo,
                   Tensor bo, Tensor mlpNorm, Tensor gate, Tensor gateBias, Tensor up, Tensor upBias, Tensor down,
                   Tensor downBias) {
    }

    private final Tape tape;
    private final Weights w;
    private final Rope.Settings rope;
    private final int batch, length, heads, kvHeads, headSize, dim, hidden;
    private final int queries;       // the last `queries` positions of each sequence get an output
    private final int first;         // length − queries: the first position with an output
    private final double scale;      // 1/√headSize
    private final Tensor x;          // (batch·T, dim): the layer's input
    private final Tensor rstd1;      // (batch·T): the attention RMSNorm's statistics
    private final Tensor rstd2;      // (batch·queries): the MLP RMSNorm's statistics
    private final Tensor qHeads;     // (batch, heads, T, headSize): rotated queries
    private final Tensor kHeads;     // (batch, kvHeads, T, headSize): rotated keys
    private final Tensor vHeads;     // (batch, kvHeads, T, headSize)
    private final Tensor probs;      // (batch, heads, queries, T)
    private final Tensor x1;         // (batch·queries, dim): x + attention at the output positions
    private final Tensor gate, up;   // (batch·queries, hidden): the MLP's two projections

    private FusedLlamaBlock(Tape tape, Weights w, Rope.Settings rope, int batch, int length, int queries, int heads,
                            int kvHeads, Tensor x, Tensor rstd1, Tensor rstd2, Tensor qHeads, Tensor kHeads,
                            Tensor vHeads, Tensor probs, Tensor x1, Tensor gate, Tensor up) {
        this.tape = tape;
        this.w = w;
        this.rope = rope;
        this.batch = batch;
        this.length = length;
        this.queries = queries;
        this.first = length - queries;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headSize = qHeads.dim(3);
        this.dim = x.dim(-1);
        this.hidden = gate.dim(-1);
        this.scale = 1 / Math.sqrt(headSize);
        this.x = x;
        this.rstd1 = rstd1;
        this.rstd2 = rstd2;
        this.qHeads = qHeads;
        this.kHeads = kHeads;
        this.vHeads = vHeads;
        this.probs = probs;
        this.x1 = x1;
        this.gate = gate;
        this.up = up;
    }

    /**
     * The layer on x [batch, T, dim], its output [batch, queries, dim] at the last {@code queries} positions of each
     * sequence (T for all of them): keys and values come from every position, queries, attention, projection and
     * MLP run at those rows alone. {@code rope} holds T positions, or batch · T (one row per sequence);
     * {@code keyMask} [batch, T] (1 = attend) may be null.
     */
    static Variable apply(Tape tape, Variable input, Weights w, int heads, int kvHeads, int headSize, double eps,
                          Rope.Settings rope, Tensor keyMask, int queries) {
        Backend backend = tape.backend();
        Tensor x = input.value();
        int batch = x.dim(0), length = x.dim(1), dim = x.dim(2), rows = batch * length;
        if (queries < 1 || queries > length) {
            throw new IllegalArgumentException("llama layer: " + queries + " output positions of " + length);
        }
        int first = length - queries, outRows = batch * queries, hidden = w.gate().dim(0);
        int qWidth = heads * headSize, kvWidth = kvHeads * headSize, group = heads / kvHeads;
        int[] positions = rope.positions();
        Tensor flat = x.view(rows, dim);
        boolean saveStatistics = input.requiresGrad();
        Tensor rstd1 = saveStatistics ? tape.allocate(rows) : null;
        Tensor rstd2 = saveStatistics ? tape.allocate(outRows) : null;
        Tensor qHeads = tape.allocate(batch, heads, length, headSize);
        Tensor kHeads = tape.allocate(batch, kvHeads, length, headSize);
        Tensor vHeads = tape.allocate(batch, kvHeads, length, headSize);
        Tensor probs = tape.allocate(batch, heads, queries, length);
        Tensor x1 = tape.allocate(outRows, dim);
        Tensor gate = tape.allocate(outRows, hidden);
        Tensor up = tape.allocate(outRows, hidden);
        Tensor y = tape.allocate(batch, queries, dim);
        Workspace.Mark temporaries = tape.workspace().mark();

        // PyTorch (HF LlamaDecoderLayer): h = self.input_layernorm(hidden_states)
        Tensor h = tape.allocate(rows, dim);
        backend.rmsNorm(flat, w.attentionNorm(), eps, h, rstd1);
        // PyTorch (HF LlamaAttention): q = self.q_proj(h).view(B, T, H, D).transpose(1, 2), likewise k and v
        Tensor projected = tape.allocate(rows, qWidth);
        project(backend, h, w.wq(), w.bq(), projected.view(rows, qWidth));
        backend.permute(projected.view(batch, length, heads, headSize), new int[]{0, 2, 1, 3}, qHeads);
        Tensor kvProjected = projected.view(-1).slice(0, rows * kvWidth).view(rows, kvWidth);
        project(backend, h, w.wk(), w.bk(), kvProjected);
        backend.permute(kvProjected.view(batch, length, kvHeads, headSize), new int[]{0, 2, 1, 3}, kHeads);
        project(backend, h, w.wv(), w.bv(), kvProjected);
        backend.permute(kvProjected.view(batch, length, kvHeads, headSize), new int[]{0, 2, 1, 3}, vHeads);
        // PyTorch (HF): q, k = apply_rotary_pos_emb(q, k, cos, sin)
        backend.rope(qHeads, positions, rope.frequencies(), rope.layout(), false, qHeads);
        backend.rope(kHeads, positions, rope.frequencies(), rope.layout(), false, kHeads);
        // PyTorch: probs = softmax(q @ repeat_kv(k).transpose(2, 3) / sqrt(D) + causal and padding masks)
        if (first == 0) {
            backend.gemm(perKvHead(batch * kvHeads, group * length, length, headSize, false, true), qHeads, kHeads,
                    probs);
        } else {
            for (int b = 0; b < batch; b++) {
                for (int g = 0; g < kvHeads; g++) {
                    backend.gemm(perQueryHead(group, queries, length, headSize, false, true, (long) length * headSize,
                                    (long) queries * length), groupRows(qHeads, b, g, group, first, queries),
                            kHeads.select(b).select(g), groupOf(probs, b, g, group));
                }
            }
        }
        backend.softmax(probs, 1 / Math.sqrt(headSize), true, keyMask, probs);
        // PyTorch: out = (probs @ repeat_kv(v)).transpose(1, 2).reshape(B, T, H * D)
        Tensor contextHeads = tape.allocate(batch, heads, queries, headSize);
        backend.gemm(perKvHead(batch * kvHeads, group * queries, headSize, length, false, false), probs, vHeads,
                contextHeads);
        Tensor context = tape.allocate(batch, queries, heads, headSize);
        backend.permute(contextHeads, new int[]{0, 2, 1, 3}, context);
        // PyTorch (HF LlamaDecoderLayer): x1 = hidden_states + self.o_proj(out), the residual and bias first
        Tensor residual = flat;
        if (queries < length) {
            residual = x1;
            OutputPositions.copyTails(backend, x, first, x1);
        }
        addInto(backend, residual, w.bo(), x1);
        backend.gemm(Gemm.of(outRows, dim, qWidth, false, true).scaled(1f, 1f), context.view(outRows, qWidth), w.wo(),
                x1);
        // PyTorch (HF LlamaMLP): y = x1 + down_proj(silu(gate_proj(h2)) * up_proj(h2)), h2 = post_attention_layernorm(x1)
        Tensor h2 = h.view(-1).slice(0, outRows * dim).view(outRows, dim);
        backend.rmsNorm(x1, w.mlpNorm(), eps, h2, rstd2);
        project(backend, h2, w.gate(), w.gateBias(), gate);
        project(backend, h2, w.up(), w.upBias(), up);
        Tensor gated = tape.allocate(outRows, hidden);
        backend.swiglu(gate, up, gated);
        Tensor yFlat = y.view(outRows, dim);
        addInto(backend, x1, w.downBias(), yFlat);
        backend.gemm(Gemm.of(outRows, dim, hidden, false, true).scaled(1f, 1f), gated, w.down(), yFlat);
        tape.workspace().rewind(temporaries);

        return tape.record(new FusedLlamaBlock(tape, w, rope, batch, length, queries, heads, kvHeads, flat, rstd1,
                rstd2, qHeads, kHeads, vHeads, probs, x1, gate, up), y, input);
    }

    /** out = in·Wᵀ (+ b): nn.Linear with W stored [out, in]. */
    private static void project(Backend backend, Tensor in, Tensor weight, Tensor bias, Tensor out) {
        int rows = in.dim(0), width = weight.dim(0), k = weight.dim(1);
        backend.gemm(Gemm.of(rows, width, k, false, true), in, weight, out);
        if (bias != null) backend.add(out, bias, out);
    }

    /** out = base (+ bias): where a GEMM will then accumulate; out may be base. */
    private static void addInto(Backend backend, Tensor base, Tensor bias, Tensor out) {
        if (bias != null) {
            backend.add(base, bias, out);
        } else if (base != out) {
            backend.copy(base, out);
        }
    }

    /**
     * One product per key/value head of every batch entry, {@code count} of them, with the rows of its {@code group}
     * query heads stacked: a [batch, heads, rows, …] tensor seen as [batch · kvHeads, group · rows, …], which is
     * contiguous because a group's heads are neighbours. Each operand advances by one such matrix per product
     * (C[p] = op(A[p])·op(B[p]), all dense), so all of a layer's heads take one strided-batched GEMM.
     */
    private static Gemm perKvHead(int count, int m, int n, int k, boolean transA, boolean transB) {
        return Gemm.batched(count, m, n, k, transA, transB);
    }

    /**
     * The {@code group} query heads of batch entry b that read key/value head g, each one product against the same
     * key or value matrix (stride 0): A and C advance by their own strides, B stays.
     */
    private static Gemm perQueryHead(int group, int m, int n, int k, boolean transA, boolean transB, long strideA,
                                     long strideC) {
        return new Gemm(group, m, n, k, transA, transB, strideA, 0, strideC, 1f, 0f);
    }

    /**
     * Rows [first, first + count) of the {@code group} query heads of kv head g in batch entry b, one strided view
     * (see {@link OutputPositions#headRows}).
     */
    private static Tensor groupRows(Tensor qHeads, int b, int g, int group, int first, int count) {
        return OutputPositions.headRows(groupOf(qHeads, b, g, group), first, count);
    }

    /** The {@code group} heads of kv head g in batch entry b of a [batch, heads, …] tensor. */
    private static Tensor groupOf(Tensor perHead, int b, int g, int group) {
        return perHead.select(b).slice(g * group, (g + 1) * group);
    }

    @Override
    public String name() {
        return "llama_layer";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        Backend backend = tape.backend();
        int rows = batch * length, outRows = batch * queries, group = heads / kvHeads;
        int qWidth = heads * headSize, kvWidth = kvHeads * headSize;
        Tensor dY = dOut.view(outRows, dim);
        Tensor dX = grads.into(0).view(rows, dim);
        Workspace.Mark temporaries = tape.workspace().mark();

        // MLP: y = x1 + (silu(gate)·up)·Wdownᵀ
        // (1) dGated = dY·Wdown, (2) dGate, dUp = SwiGLU backward
        Tensor dGated = tape.allocate(outRows, hidden);
        backend.gemm(Gemm.of(outRows, hidden, dim, false, false), dY, w.down(), dGated);
        Tensor dGate = tape.allocate(outRows, hidden), dUp = tape.allocate(outRows, hidden);
        backend.swigluBackward(gate, up, dGated, dGate, dUp);
        // (3) dH2 = dGate·Wgate + dUp·Wup, (4) dX1 = RMSNorm backward of dH2, plus dY through the residual
        Tensor dH = tape.allocate(rows, dim);
        Tensor dH2 = dH.view(-1).slice(0, outRows * dim).view(outRows, dim);
        backend.gemm(Gemm.of(outRows, dim, hidden, false, false), dGate, w.gate(), dH2);
        backend.gemm(Gemm.of(outRows, dim, hidden, false, false).scaled(1f, 1f), dUp, w.up(), dH2);
        Tensor dX1 = tape.allocate(outRows, dim);
        backend.rmsNormBackward(x1, w.mlpNorm(), rstd2, dH2, dX1);
        backend.add(dX1, dY, dX1);

        // attention: x1 = x + context·Woᵀ at the output positions
        // (5) dContext = dX1·Wo, by head
        Tensor dContext = tape.allocate(outRows, qWidth);
        backend.gemm(Gemm.of(outRows, qWidth, dim, false, false), dX1, w.wo(), dContext);
        Tensor dContextHeads = tape.allocate(batch, heads, queries, headSize);
        backend.permute(dContext.view(batch, queries, heads, headSize), new int[]{0, 2, 1, 3}, dContextHeads);
        Tensor dScores = tape.allocate(batch, heads, queries, length);
        Tensor dQHeads = tape.allocate(batch, heads, length, headSize);
        Tensor dKHeads = tape.allocate(batch, kvHeads, length, headSize);
        Tensor dVHeads = tape.allocate(batch, kvHeads, length, headSize);
        int pairs = batch * kvHeads;   // (batch entry, key/value head) pairs, each with its group's rows stacked
        // (6) dProbs = dContext·Vᵀ for each query head of each group
        backend.gemm(perKvHead(pairs, group * queries, length, headSize, false, true), dContextHeads, vHeads, dScores);
        // (7) dV = Σ over the group's query heads of probsᵀ·dContext: the stacked rows are the sum's k
        backend.gemm(perKvHead(pairs, length, headSize, group * queries, true, false), probs, dContextHeads, dVHeads);
        // (8) dScores = scale · probs · (dProbs − Σ probs·dProbs), in place
        backend.softmaxBackward(probs, dScores, scale, dScores);
        if (first == 0) {
            // (9) dQ = dScores·K, (10) dK = Σ over the group's query heads of dScoresᵀ·Q, stacked as in (7)
            backend.gemm(perKvHead(pairs, group * length, headSize, length, false, false), dScores, kHeads, dQHeads);
            backend.gemm(perKvHead(pairs, length, headSize, group * length, true, false), dScores, qHeads, dKHeads);
        } else {
            // the same at the output positions only: a group's query rows are no longer one block, so per (b, g)
            Gemm dKOne = Gemm.of(length, headSize, queries, true, false);
            Gemm dKMore = dKOne.scaled(1f, 1f);
            for (int b = 0; b < batch; b++) {
                backend.fill(dQHeads.select(b), 0);
                for (int g = 0; g < kvHeads; g++) {
                    // (9) dQ = dScores·K at the output positions (0 before them), for each query head of the group
                    backend.gemm(new Gemm(group, queries, headSize, length, false, false, (long) queries * length, 0,
                                    (long) length * headSize, 1f, 0f), groupOf(dScores, b, g, group),
                            kHeads.select(b).select(g), groupRows(dQHeads, b, g, group, first, queries));
                    // (10) dK = Σ over the group's query heads of dScoresᵀ·Q (Q at the output positions)
                    for (int i = 0; i < group; i++) {
                        int head = g * group + i;
                        backend.gemm(i == 0 ? dKOne : dKMore, dScores.select(b).select(head),
                                qHeads.select(b).select(head).slice(first, length), dKHeads.select(b).select(g));
                    }
                }
            }
        }
        // (11) RoPE backward: the rotation by minus the angle
        int[] positions = rope.positions();
        backend.rope(dQHeads, positions, rope.frequencies(), rope.layout(), true, dQHeads);
        backend.rope(dKHeads, positions, rope.frequencies(), rope.layout(), true, dKHeads);
        // (12) back to rows, (13) dH1 = dQ·Wq + dK·Wk + dV·Wv, (14) dX = RMSNorm backward of dH1, plus dX1 at the
        // output positions
        Tensor dRows = tape.allocate(rows, qWidth);
        backend.permute(dQHeads, new int[]{0, 2, 1, 3}, dRows.view(batch, length, heads, headSize));
        backend.gemm(Gemm.of(rows, dim, qWidth, false, false), dRows, w.wq(), dH);
        Tensor dKvRows = dRows.view(-1).slice(0, rows * kvWidth).view(rows, kvWidth);
        backend.permute(dKHeads, new int[]{0, 2, 1, 3}, dKvRows.view(batch, length, kvHeads, headSize));
        backend.gemm(Gemm.of(rows, dim, kvWidth, false, false).scaled(1f, 1f), dKvRows, w.wk(), dH);
        backend.permute(dVHeads, new int[]{0, 2, 1, 3}, dKvRows.view(batch, length, kvHeads, headSize));
        backend.gemm(Gemm.of(rows, dim, kvWidth, false, false).scaled(1f, 1f), dKvRows, w.wv(), dH);
        backend.rmsNormBackward(x, w.attentionNorm(), rstd1, dH, dX);
        OutputPositions.addTails(backend, dX, dX1, batch);
        tape.workspace().rewind(temporaries);
    }
}
