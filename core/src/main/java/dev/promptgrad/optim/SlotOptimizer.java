package dev.promptgrad.optim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What {@link Adam} and {@link Adafactor} share: the parameter list, the step count, the state as named
 * float[] slots per parameter, the argument checks of a step, and the copies made by save and restore.
 * It has no update rule of its own; each subclass gives {@link #update}.
 */
abstract sealed class SlotOptimizer permits Adam, Adafactor {
    private final List<Parameter> parameters;
    private final Map<String, float[]> slots = new LinkedHashMap<>();  // "<parameter>.<slot>" -> values
    private int steps;

    SlotOptimizer(List<Parameter> parameters, String optimizer) {
        if (parameters == null || parameters.isEmpty()) {
            throw new IllegalArgumentException(optimizer + " needs at least one parameter to optimize");
        }
        Set<String> names = new HashSet<>();
        for (Parameter p : parameters) {
            if (p == null) throw new IllegalArgumentException(optimizer + ": parameter list " + parameters + " holds null");
            if (!names.add(p.name())) {
                throw new IllegalArgumentException(optimizer + ": two parameters are named '" + p.name()
                        + "'; names key the saved state and must be unique");
            }
        }
        this.parameters = List.copyOf(parameters);
    }

    public abstract String name();

    /** Applies one step to parameter {@code index}; {@code step} counts from 1, as in torch. */
    abstract void update(int index, float[] param, float[] grad, double lr, int step);

    /** Declares a zero-filled state slot of {@code length} floats; subclass constructors call it. */
    final float[] addSlot(Parameter parameter, String slot, int length) {
        float[] values = new float[length];
        slots.put(parameter.name() + "." + slot, values);
        return values;
    }

    public final List<Parameter> parameters() {
        return parameters;
    }

    public final int steps() {
        return steps;
    }

    public final void step(List<float[]> params, List<float[]> grads, double lr) {
        if (params == null || grads == null) {
            throw new IllegalArgumentException(name() + ".step: parameter values and gradients are required");
        }
        if (params.size() != parameters.size() || grads.size() != parameters.size()) {
            throw new IllegalArgumentException(name() + ".step: got " + params.size() + " value arrays and "
                    + grads.size() + " gradients for the " + parameters.size() + " parameters " + parameters);
        }
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            float[] values = params.get(i), grad = grads.get(i);
            if (values == null || grad == null) {
                throw new IllegalArgumentException(name() + ".step: values or gradient of '" + p.name() + "' is null");
            }
            if (values.length != p.size() || grad.length != p.size()) {
                throw new IllegalArgumentException(name() + ".step: '" + p.name() + "' " + p + " has " + p.size()
                        + " elements but its values hold " + values.length + " and its gradient " + grad.length);
            }
        }
        if (!(lr >= 0 && Double.isFinite(lr))) {
            throw new IllegalArgumentException(name() + ".step " + (steps + 1) + ": learning rate " + lr
                    + " must be a finite number >= 0 (check the schedule)");
        }
        steps++;  // torch: state["step"] += 1, before the update
        for (int i = 0; i < parameters.size(); i++) {
            update(i, params.get(i), grads.get(i), lr, steps);
        }
    }

    public final Map<String, float[]> state() {
        Map<String, float[]> copy = new LinkedHashMap<>();
        slots.forEach((key, values) -> copy.put(key, values.clone()));
        return Collections.unmodifiableMap(copy);
    }

    public final void restore(int steps, Map<String, float[]> state) {
        if (steps < 0) throw new IllegalArgumentException(name() + ".restore: step count " + steps + " is negative");
        if (state == null) throw new IllegalArgumentException(name() + ".restore: no state given");
        Set<String> unknown = new TreeSet<>(state.keySet());
        unknown.removeAll(slots.keySet());
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(name() + ".restore: unknown state keys " + unknown + "; this "
                    + name() + " over " + parameters + " has " + slots.keySet());
        }
        List<String> problems = new ArrayList<>();
        slots.forEach((key, values) -> {
            float[] saved = state.get(key);
            if (saved == null) problems.add("'" + key + "' is missing");
            else if (saved.length != values.length) {
                problems.add("'" + key + "' has " + saved.length + " values, expected " + values.length);
            }
        });
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(name() + ".restore: saved state does not fit " + parameters + ": "
                    + String.join(", ", problems));
        }
        slots.forEach((key, values) -> System.arraycopy(state.get(key), 0, values, 0, values.length));
        this.steps = steps;
    }
}
