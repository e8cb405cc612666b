package dev.promptgrad.generate;

import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The generation loop of {@link Generator} for many sequences at once, each with its own soft prompt, ids,
 * sampling settings and stop tokens, on one {@link BatchDecoder}: one forward pass over the batch per step,
 * and a row stops on its own (stop token, its token limit, or its positions filling the model's context) while
 * the others go on. Each row's tokens are those it would get generated alone: same positions, same sampler
 * and seed, same stopping rules. Holds no state between calls.
 */
public final class BatchGenerator {

    private BatchGenerator() {
    }

    /** Generates every request; the results are in request order. */
    public static List<Generation> generate(LanguageModel model, List<BatchRequest> requests) {
        if (requests.isEmpty()) throw new IllegalArgumentException("give at least one request");
        int batch = requests.size();
        int context = model.contextLength();
        int[] prefixes = new int[batch];
        int[] steps = new int[batch];   // the most tokens a row feeds after its prefix
        for (int b = 0; b < batch; b++) {
            BatchRequest request = requests.get(b);
            prefixes[b] = request.prefixLength();
            if (prefixes[b] > context) {
                throw new IllegalArgumentException("request " + b + " starts with " + prefixes[b] + " positions (prompt"
                        + " rows and input ids), more than the model's context of " + context);
            }
            steps[b] = Math.min(request.settings().maxNewTokens() - 1, context - prefixes[b]);
        }
        Sampler[] samplers = new Sampler[batch];
        int[][] history = new int[batch][];      // input ids, then generated ids
        int[] lengths = new int[batch];          // valid entries of history
        Generation[] done = new Generation[batch];
        int[][] starts = new int[batch][];
        List<Tensor> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            BatchRequest request = requests.get(b);
            samplers[b] = new Sampler(request.settings().sampling());
            starts[b] = request.inputIds();
            history[b] = Arrays.copyOf(starts[b], starts[b].length + request.settings().maxNewTokens());
            lengths[b] = starts[b].length;
            prompts.add(request.prompt());
        }
        try (BatchDecoder decoder = new BatchDecoder(model, prompts, BatchDecoder.columnsNeeded(prefixes, steps))) {
            float[][] logits = decoder.start(starts);
            int[] next = new int[batch];
            boolean[] active = new boolean[batch];
            while (true) {
                boolean any = false;
                for (int b = 0; b < batch; b++) {
                    if (done[b] != null) {
                        active[b] = false;
                        continue;
                    }
                    GenerationSettings settings = requests.get(b).settings();
                    int chosen = samplers[b].next(logits[b], Arrays.copyOf(history[b], lengths[b]));
                    int generated = lengths[b] - starts[b].length;
                    if (settings.isStopToken(chosen)) {
                        done[b] = result(history[b], starts[b].length, lengths[b], Generation.Reason.STOP_TOKEN, chosen);
                    } else {
                        history[b][lengths[b]++] = chosen;
                        if (generated + 1 == settings.maxNewTokens()) {
                            done[b] = result(history[b], starts[b].length, lengths[b], Generation.Reason.MAX_TOKENS, -1);
                        } else if (decoder.length(b) >= context) {
                            done[b] = result(history[b], starts[b].length, lengths[b], Generation.Reason.CONTEXT_FULL, -1);
                        }
                    }
                    active[b] = done[b] == null;
                    next[b] = chosen;
                    any |= active[b];
                }
                if (!any) return List.of(done);
                logits = decoder.step(next, active);
            }
        }
    }

    private static Generation result(int[] history, int from, int to, Generation.Reason reason, int stopToken) {
        return new Generation(Arrays.copyOfRange(history, from, to), reason, stopToken);
    }
}
