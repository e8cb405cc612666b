package dev.promptgrad.ops;

import dev.promptgrad.autograd.Function;
import dev.promptgrad.autograd.InputGrads;
import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.KernelContract;
import dev.promptgrad.tensor.Tensor;

/**
 * The mean next-token cross-entropy over logits [..., vocab] and one target per row, skipping targets of
 * {@value #IGNORE} (torch's reduction='mean', ignore_index=-100). Fused: the forward kernel also writes
 * dLoss/dLogits, so backward only scales it by the incoming gradient. Returns a scalar.
 * Derivation: docs/autograd.md#cross-entropy.
 */
public final class CrossEntropy implements Function {

    /** The target value that marks a row as unlabelled (PEFT's prompt rows, the input part of an example). */
    public static final int IGNORE = KernelContract.IGNORE_INDEX;

    private final Tape tape;
    private final Tensor dLogits;  // (rows, vocab), already divided by the number of labelled rows

    private CrossEntropy(Tape tape, Tensor dLogits) {
        this.tape = tape;
        this.dLogits = dLogits;
    }

    /** loss = mean over rows with a target ≠ -100 of −log softmax(logits[row])[target]. */
    public static Variable apply(Tape tape, Variable logits, int[] targets) {
        return apply(tape, logits, targets, false);
    }

    /**
     * As {@link #apply(Tape, Variable, int[])}, but dLoss/dLogits is written over the logits themselves, saving a
     * tensor of their size: for a loss whose logits nothing else reads afterwards (a frozen head's backward needs
     * only its weight).
     */
    public static Variable applyOverwritingLogits(Tape tape, Variable logits, int[] targets) {
        return apply(tape, logits, targets, true);
    }

    private static Variable apply(Tape tape, Variable logits, int[] targets, boolean overwrite) {
        Tensor l = logits.value();
        int vocab = l.dim(-1);
        int rows = l.rows();
        if (targets.length != rows) {
            throw new IllegalArgumentException("cross entropy: " + targets.length + " targets for " + rows
                    + " rows of logits " + logits);
        }
        int labelled = 0;
        for (int r = 0; r < rows; r++) {
            if (targets[r] == IGNORE) continue;
            if (targets[r] < 0 || targets[r] >= vocab) {
                throw new IndexOutOfBoundsException("cross entropy: target " + targets[r] + " of row " + r
                        + " is outside the vocabulary of " + vocab + " (use " + IGNORE + " to ignore a row)");
            }
            labelled++;
        }
        if (labelled == 0) {
            throw new IllegalArgumentException("cross entropy: all " + rows + " targets are " + IGNORE
                    + "; a batch needs at least one labelled position");
        }
        Tensor flat = l.view(rows, vocab);
        Tensor dLogits = !logits.requiresGrad() ? null : overwrite ? flat : tape.allocate(rows, vocab);
        // PyTorch: loss = F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-100)
        double sum = tape.backend().crossEntropy(flat, targets.clone(), 1.0 / labelled, dLogits);
        Tensor loss = tape.allocate();
        tape.backend().upload(new double[] {sum / labelled}, loss);
        return tape.record(new CrossEntropy(tape, dLogits), loss, logits);
    }

    @Override
    public String name() {
        return "cross_entropy";
    }

    @Override
    public void backward(Tensor dOut, InputGrads grads) {
        double dLoss = tape.backend().downloadDouble(dOut)[0];
        // (1) dLogits = dLoss · (softmax(logits) − onehot(target)) / labelled, 0 on ignored rows
        if (dLoss == 1.0) {
            grads.pass(0, dLogits);
        } else {
            tape.backend().scale(dLogits, dLoss, grads.into(0));
        }
    }
}
