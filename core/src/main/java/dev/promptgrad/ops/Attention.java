package dev.promptgrad.ops;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

import java.util.Arrays;

/**
 * Scaled dot-product attention over projected q [batch, T, heads · headSize] and k, v
 * [batch, keys, kvHeads · headSize], with grouped-query heads, causal and padding masks and optional RoPE.
 * Composed from {@link Reshape}, {@link Permute}, {@link Rope}, {@link MatMul} and {@link Softmax}, not a
 * kernel of its own, so its backward is theirs. The projections before and after are {@link Linear}s.
 * Derivation: docs/autograd.md#attention.
 */
public final class Attention {

    private Attention() {
    }

    /**
     * softmax(Q·Kᵀ / √headSize + masks) · V per head, returned as [batch, T, heads · headSize].
     * Query head h reads kv head h / (heads / kvHeads), as Hugging Face's repeat_kv does.
     *
     * @param keyMask [batch, keys], 1 = attend and 0 = padding; may be null
     * @param rope    the rotary settings, or null for a model without RoPE: the positions of the keys, [keys]
     *                shared by every sequence or [batch · keys] one row per sequence; the queries take the
     *                last T of each row
     */
    public static Variable apply(Tape tape, Variable q, Variable k, Variable v, int heads, int kvHeads,
                                 boolean causal, Tensor keyMask, Rope.Settings rope) {
        Tensor qv = q.value();
        if (qv.rank() != 3 || heads < 1 || kvHeads < 1 || heads % kvHeads != 0 || qv.dim(2) % heads != 0) {
            throw new IllegalArgumentException("attention: q " + q + " must be [batch, T, heads · headSize] with "
                    + heads + " heads divisible into " + kvHeads + " kv heads");
        }
        int batch = qv.dim(0);
        int length = qv.dim(1);
        int headSize = qv.dim(2) / heads;
        int group = heads / kvHeads;     // query heads per kv head
        int keys = k.value().rank() == 3 ? k.value().dim(1) : 0;
        int[] kvShape = {batch, keys, kvHeads * headSize};
        if (!Arrays.equals(k.shape(), kvShape) || !Arrays.equals(v.shape(), kvShape) || keys < length) {
            throw new IllegalArgumentException("attention: k " + k + " and v " + v + " must both be"
                    + " [batch, keys, kvHeads · headSize] = " + Arrays.toString(kvShape) + " with at least T = "
                    + length + " keys");
        }

        // PyTorch: q = q.view(B, T, H, D).transpose(1, 2); likewise k and v with KvH heads
        Variable qh = byHead(tape, q, heads, headSize);      // (B, H, T, D)
        Variable kh = byHead(tape, k, kvHeads, headSize);    // (B, KvH, keys, D)
        Variable vh = byHead(tape, v, kvHeads, headSize);    // (B, KvH, keys, D)
        if (rope != null) {
            int[] keyPositions = rope.positions();                    // (keys) or (B, keys)
            int[] queryPositions;                                     // (T) or (B, T)
            if (keyPositions.length == keys) {
                queryPositions = Arrays.copyOfRange(keyPositions, keys - length, keys);
            } else if (keyPositions.length == (long) batch * keys) {
                queryPositions = new int[batch * length];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(keyPositions, b * keys + keys - length, queryPositions, b * length, length);
                }
            } else {
                throw new IllegalArgumentException("attention: rope has " + keyPositions.length
                        + " positions but there are " + keys + " keys in each of " + batch + " sequences; give one"
                        + " position per key (" + keys + ") or per sequence and key (" + batch * keys + ")");
            }
            // PyTorch (HF Llama): q, k = apply_rotary_pos_emb(q, k, cos, sin)
            qh = Rope.apply(tape, qh, queryPositions, rope.frequencies(), rope.layout());
            kh = Rope.apply(tape, kh, keyPositions, rope.frequencies(), rope.layout());
        }

        // The `group` query heads sharing a kv head are adjacent in (B, H, T, D), so Q viewed as
        // (B·KvH, group·T, D) meets K (B·KvH, keys, D) in one batched GEMM, without repeating K or V.
        Variable groupedQ = Reshape.apply(tape, qh, batch * kvHeads, group * length, headSize);
        Variable flatK = Reshape.apply(tape, kh, batch * kvHeads, keys, headSize);
        Variable flatV = Reshape.apply(tape, vh, batch * kvHeads, keys, headSize);

        // PyTorch: scores = q @ k.transpose(-2, -1)
        Variable scores = MatMul.apply(tape, groupedQ, flatK, false, true);          // (B·KvH, group·T, keys)
        // The same memory as (B, H, T, keys): the softmax masks causally per time step, not per grouped row.
        // PyTorch: probs = softmax(scores / sqrt(D) + mask, dim=-1)
        Variable probs = Softmax.apply(tape, Reshape.apply(tape, scores, batch, heads, length, keys),
                1 / Math.sqrt(headSize), causal, keyMask);                                     // (B, H, T, keys)
        // PyTorch: out = probs @ v
        Variable groupedProbs = Reshape.apply(tape, probs, batch * kvHeads, group * length, keys);
        Variable context = MatMul.apply(tape, groupedProbs, flatV, false, false);    // (B·KvH, group·T, D)
        // PyTorch: out = out.transpose(1, 2).reshape(B, T, H * D)
        Variable byTime = Permute.apply(tape, Reshape.apply(tape, context, batch, heads, length, headSize), 0, 2, 1, 3);
        return Reshape.apply(tape, byTime, batch, length, heads * headSize);
    }

    /** x [B, time, heads · headSize] as [B, heads, time, headSize]: a view, then a permute. */
    private static Variable byHead(Tape tape, Variable x, int heads, int headSize) {
        Variable split = Reshape.apply(tape, x, x.value().dim(0), x.value().dim(1), heads, headSize);
        return Permute.apply(tape, split, 0, 2, 1, 3);
    }
}
