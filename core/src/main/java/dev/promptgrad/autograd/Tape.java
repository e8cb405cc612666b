package dev.promptgrad.autograd;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.tensor.DType;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Records the ops of one forward pass that lie on a path from a parameter, then walks them backward.
 * An op whose inputs need no gradient is not recorded at all, so backward visits exactly the paths from
 * the loss to the parameters asked for. Activations and gradients come from one {@link Workspace}; call
 * {@link #reset()} between steps and nothing is allocated after the first.
 */
public final class Tape {
    private final Backend backend;
    private final Workspace workspace;
    private final List<Node> nodes = new ArrayList<>();
    private final List<Variable> parameters = new ArrayList<>();
    private int variables;

    /** A recorded op: its function, its inputs, and which of them need a gradient. */
    private record Node(Function function, Variable output, Variable[] inputs, boolean[] needs) {
    }

    public Tape(Backend backend, Workspace workspace) {
        if (workspace.backend() != backend) {
            throw new IllegalArgumentException(workspace.label() + " belongs to backend " + workspace.backend().name()
                    + ", not " + backend.name());
        }
        this.backend = backend;
        this.workspace = workspace;
    }

    public Backend backend() {
        return backend;
    }

    /** The element type of every activation on this tape (F32, or F64 for gradient checks). */
    public DType dtype() {
        return workspace.dtype();
    }

    /**
     * The workspace activations come from. An op may {@link Workspace#mark() mark} it before allocating temporaries
     * that nothing reads after the op returns and {@link Workspace#rewind rewind} to the mark at its end.
     */
    public Workspace workspace() {
        return workspace;
    }

    /** An uninitialised activation tensor from the workspace. */
    public Tensor allocate(int... shape) {
        return workspace.allocate(shape);
    }

    /** A value that never gets a gradient: a frozen weight, token ids' embeddings, a mask. */
    public Variable constant(Tensor value, String name) {
        return new Variable(value, false, name, -1);
    }

    /** A value the caller wants dLoss/dValue for: the prompt. */
    public Variable parameter(Tensor value, String name) {
        Variable p = new Variable(value, true, name, variables++);
        parameters.add(p);
        return p;
    }

    /**
     * Wraps an op's freshly computed {@code output}. If any input needs a gradient the op is recorded
     * and the output needs one too; otherwise nothing is recorded and the output is a constant.
     */
    public Variable record(Function function, Tensor output, Variable... inputs) {
        boolean[] needs = new boolean[inputs.length];
        boolean any = false;
        for (int i = 0; i < inputs.length; i++) {
            needs[i] = inputs[i] != null && inputs[i].requiresGrad();
            any |= needs[i];
        }
        if (!any) return new Variable(output, false, function.name(), -1);
        Variable out = new Variable(output, true, function.name(), variables++);
        nodes.add(new Node(function, out, inputs.clone(), needs));
        return out;
    }

    /** Backward from a scalar loss (seed 1). */
    public Gradients backward(Variable loss) {
        return backward(loss, (GradientObserver) null);
    }

    /**
     * Backward from a scalar loss (seed 1), showing {@code observer} (null: none) the gradient of every recorded
     * op's output on the way, e.g. the residual stream at each block boundary.
     */
    public Gradients backward(Variable loss, GradientObserver observer) {
        if (loss.value().size() != 1) {
            throw new IllegalArgumentException("backward(loss) needs a scalar; " + loss + " has "
                    + loss.value().size() + " elements; pass a seed gradient instead");
        }
        Tensor seed = allocate(loss.shape());
        backend.fill(seed, 1.0);
        return backward(loss, seed, observer);
    }

    /**
     * Backward from {@code output} with dLoss/dOutput = {@code seed} (same size). Returns the gradients of
     * the parameters the output depends on. They live in the workspace until {@link #reset()}.
     */
    public Gradients backward(Variable output, Tensor seed) {
        return backward(output, seed, null);
    }

    /** As {@link #backward(Variable, Tensor)}, showing {@code observer} (null: none) each op's output gradient. */
    public Gradients backward(Variable output, Tensor seed, GradientObserver observer) {
        if (!output.requiresGrad()) {
            throw new IllegalArgumentException(output + " does not depend on any parameter; nothing to differentiate");
        }
        if (seed.size() != output.value().size()) {
            throw new IllegalArgumentException("seed " + seed + " does not match " + output);
        }
        Map<Variable, Grad> grads = new IdentityHashMap<>();
        grads.put(output, new Grad(seed.view(output.shape()), false));
        for (int n = nodes.size() - 1; n >= 0; n--) {
            Node node = nodes.get(n);
            Grad dOut = grads.remove(node.output);
            if (dOut == null) continue;   // this op does not reach the output being differentiated
            if (observer != null) observer.gradient(node.output, dOut.tensor);
            Sink sink = new Sink(node);
            node.function.backward(dOut.tensor, sink);
            sink.accumulateInto(grads);
        }
        Map<Variable, Tensor> result = new IdentityHashMap<>();
        for (Variable p : parameters) {
            Grad g = grads.get(p);
            if (g != null) result.put(p, g.tensor);
        }
        return new Gradients(result);
    }

    /** Forgets the recorded ops and parameters and rewinds the workspace for the next step. */
    public void reset() {
        nodes.clear();
        parameters.clear();
        variables = 0;
        workspace.reset();
    }

    /** The number of ops recorded since the last reset (ops on no gradient path are not recorded). */
    public int recordedOps() {
        return nodes.size();
    }

    /** A gradient, and whether the tape may write into it (not into a tensor passed through from elsewhere). */
    private record Grad(Tensor tensor, boolean owned) {
    }

    private record Contribution(Variable input, Tensor tensor, boolean owned) {
    }

    /** Collects one backward's contributions; they are summed after it returns, when {@code into} tensors are written. */
    private final class Sink implements InputGrads {
        private final Node node;
        private final List<Contribution> contributions = new ArrayList<>(2);

        Sink(Node node) {
            this.node = node;
        }

        @Override
        public boolean needs(int i) {
            return node.needs[i];
        }

        @Override
        public Tensor into(int i) {
            checkNeeded(i);
            Variable input = node.inputs[i];
            Tensor fresh = allocate(input.shape());
            contributions.add(new Contribution(input, fresh, true));
            return fresh;
        }

        @Override
        public void pass(int i, Tensor gradient) {
            checkNeeded(i);
            Variable input = node.inputs[i];
            if (gradient.size() != input.value().size()) {
                throw new IllegalArgumentException(node.function.name() + " passed a gradient " + gradient
                        + " for input " + input);
            }
            contributions.add(new Contribution(input, gradient.view(input.shape()), false));
        }

        private void checkNeeded(int i) {
            if (!node.needs[i]) {
                throw new IllegalStateException(node.function.name() + " computed a gradient for input " + i
                        + " (" + node.inputs[i] + "), which does not need one");
            }
        }

        /**
         * The first contribution to a variable is adopted as is. A later one is added into an owned
         * gradient, or the two are summed into a tensor the tape owns when neither may be written.
         */
        void accumulateInto(Map<Variable, Grad> grads) {
            for (Contribution c : contributions) {
                Grad old = grads.get(c.input);
                if (old == null) {
                    grads.put(c.input, new Grad(c.tensor, c.owned));
                } else if (old.owned) {
                    backend.add(old.tensor, c.tensor, old.tensor);
                } else if (c.owned) {
                    backend.add(c.tensor, old.tensor, c.tensor);
                    grads.put(c.input, new Grad(c.tensor, true));
                } else {
                    Tensor sum = allocate(c.input.shape());
                    backend.add(old.tensor, c.tensor, sum);
                    grads.put(c.input, new Grad(sum, true));
                }
            }
        }
    }

    @Override
    public String toString() {
        return "Tape" + Arrays.toString(nodes.stream().map(n -> n.function.name()).toArray());
    }
}
