package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.tensor.Tensor;

/**
 * Prepends a soft prompt [P, C] to every batch row of token embeddings [batch, T, C], giving
 * [batch, P + T, C] (PEFT's prompt tuning: virtual tokens first, before any padding). Backward sums the
 * prompt rows' gradient over the batch, and slices out the tokens' gradient only if they need one.
 * Derivation: docs/autograd.md#concat-prompt.
 */
public final class ConcatPrompt implements Function {

    private final Tape tape;
    private final int promptLength;

    private ConcatPrompt(Tape tape, int promptLength) {
        this.tape = tape;
        this.promptLength = promptLength;
    }

    /** out[b] = concat(prompt, tokens[b]) along the time axis. */
    public static Variable apply(Tape tape, Variable prompt, Variable tokens) {
        Tensor p = prompt.value();
        Tensor t = tokens.value();
        if (p.rank() != 2 || t.rank() != 3 || p.dim(1) != t.dim(2)) {
            throw new IllegalArgumentException("concat prompt: prompt " + prompt + " must be [P, C] and tokens "
                    + tokens + " [batch, T, C] with the same C");
        }
        int batch = t.dim(0);
        int promptLength = p.dim(0);
        int length = t.dim(1);
        Tensor out = tape.allocate(batch, promptLength + length, t.dim(2));
        // PyTorch (PEFT): out = torch.cat((prompt.expand(B, -1, -1), tokens), dim=1)
        for (int b = 0; b < batch; b++) {
            Tensor row = out.select(b);                                                      // (P + T, C)
            tape.backend().copy(p, row.slice(0, promptLength));
            tape.backend().copy(t.select(b), row.slice(promptLength, promptLength + length));
        }
        return tape.record(new ConcatPrompt(tape, promptLength), out, prompt, tokens);
    }

    @Override
    public String name() {
        return "concat_prompt";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        int batch = dOut.dim(0);
        int total = dOut.dim(1);
        // (1) dPrompt = Σ_b dOut[b, :P]
        if (grads.needs(0)) {
            Tensor dPrompt = grads.into(0);                                                  // (P, C)
            tape.backend().copy(dOut.select(0).slice(0, promptLength), dPrompt);
            for (int b = 1; b < batch; b++) {
                tape.backend().add(dPrompt, dOut.select(b).slice(0, promptLength), dPrompt);
            }
        }
        // (2) dTokens[b] = dOut[b, P:]
        if (grads.needs(1)) {
            Tensor dTokens = grads.into(1);                                                  // (batch, T, C)
            for (int b = 0; b < batch; b++) {
                tape.backend().copy(dOut.select(b).slice(promptLength, total), dTokens.select(b));
            }
        }
    }
}
