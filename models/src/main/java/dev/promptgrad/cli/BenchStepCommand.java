package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Gemm;
import dev.promptgrad.backend.RopeLayout;
import dev.promptgrad.backend.TimingBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.LlamaConfig;
import dev.promptgrad.model.RandomModels;
import dev.promptgrad.model.TokenBatch;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.train.CausalLmObjective;
import dev.promptgrad.train.TrainingStep;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad bench step}: times soft-prompt training steps ({@link TrainingStep}: loss, dLoss/dPrompt,
 * AdamW) of a randomly initialised GPT-2 or Llama of the shape given on the command line, with random token ids;
 * no file is read. Prints the median, min and max milliseconds per step, tokens per second, the GEMM FLOPs a step
 * issues, the GFLOP/s that makes, an sgemm of the MLP's shape timed in the same process for comparison, and peak
 * resident memory; {@code --profile} adds the time per kernel kind. Defaults are GPT-2 small, batch 4 × 128
 * tokens, 20 virtual tokens. Not a trainer: the batch never changes.
 */
@Command(name = "step", sortOptions = false,
        description = "Time a soft-prompt training step on a random model of the given shape.")
final class BenchStepCommand implements Callable<Integer> {

    /** AdamW's rate: the step's cost does not depend on it. */
    private static final double LEARNING_RATE = 1e-3;

    /** The architectures a random model can have. */
    enum Arch { GPT2, LLAMA }

    @Spec
    CommandSpec spec;

    @Option(names = "--arch", paramLabel = "gpt2|llama", defaultValue = "gpt2",
            description = "Architecture (default: ${DEFAULT-VALUE}).")
    Arch arch;

    @Option(names = "--layers", defaultValue = "12", description = "Transformer blocks (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--heads", defaultValue = "12", description = "Attention heads (default: ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--kv-heads", paramLabel = "N", description = "Key/value heads, llama only (default: --heads).")
    Integer kvHeads;

    @Option(names = "--dim", defaultValue = "768", description = "Model width (default: ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--hidden", paramLabel = "N", description = "MLP width (default: 4 × --dim).")
    Integer hidden;

    @Option(names = "--vocab", defaultValue = "50257", description = "Vocabulary size (default: ${DEFAULT-VALUE}).")
    int vocab;

    @Option(names = "--positions", defaultValue = "1024",
            description = "Context length: the most positions a sequence may have (default: ${DEFAULT-VALUE}).")
    int positions;

    @Option(names = "--batch", defaultValue = "4", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--tokens", defaultValue = "128", description = "Tokens per sequence (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--virtual-tokens", paramLabel = "P", defaultValue = "20",
            description = "Soft prompt rows in front of every sequence (default: ${DEFAULT-VALUE}).")
    int virtualTokens;

    @Option(names = "--labelled", paramLabel = "all|last:K", defaultValue = "all",
            description = "Which tokens carry labels: all, or the last K of each sequence (default: ${DEFAULT-VALUE}).")
    String labelled;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "5",
            description = "Timed steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "2",
            description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--seed", defaultValue = "1",
            description = "Seed of the weights, ids and prompt (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--profile", description = "Also print the time per kernel kind of an average step.")
    boolean profile;

    @Option(names = "--json", description = "Print one JSON object (see docs/cli.md) instead of text.")
    boolean json;

    @Mixin
    CommonOptions common;

    @Mixin
    WeightsOption weights;

    @Override
    public Integer call() {
        checkArguments();
        int width = hidden != null ? hidden : 4 * dim;
        try (TimingBackend timing = new TimingBackend(common.openBackend(spec.commandLine().getErr()));
             LanguageModel model = newModel(timing, width);
             TrainingStep step = new TrainingStep(model, virtualTokens);
             Scope sgemmScope = new Scope(timing, "sgemm comparison")) {
            List<CausalLmObjective.Batch> batches =
                    List.of(new CausalLmObjective.Batch(model, newBatch(), virtualTokens));
            float[] prompt = randomPrompt();                       // (P, dim), updated in place by each step
            Adam adamw = new Adam(List.of(Parameter.of("prompt_embeddings", virtualTokens, dim)), Adam.Settings.ADAMW);
            int rows = batch * (virtualTokens + tokens);
            Gemm mlp = Gemm.of(rows, width, dim, false, false);   // (rows, dim) · (dim, hidden)
            Tensor a = sgemmScope.of(randomValues(rows * dim, 0.02), rows, dim);
            Tensor b = sgemmScope.of(randomValues(dim * width, 0.02), dim, width);
            Tensor c = sgemmScope.allocate(rows, width);

            double firstLoss = Double.NaN;
            for (int s = 0; s < warmup; s++) {
                double loss = step.run(prompt, batches, adamw, LEARNING_RATE, 0).loss();
                if (s == 0) firstLoss = loss;
                timing.gemm(mlp, a, b, c);
            }
            double[] stepMillis = new double[steps];
            double[] cpuMillis = new double[steps];                // the process's CPU time per step, all threads
            double[] sgemmMillis = new double[steps];
            double lastLoss = Double.NaN;
            timing.reset();
            for (int s = 0; s < steps; s++) {
                long cpuStart = processCpuNanos();
                long start = System.nanoTime();
                lastLoss = step.run(prompt, batches, adamw, LEARNING_RATE, 0).loss();
                stepMillis[s] = (System.nanoTime() - start) / 1e6;
                cpuMillis[s] = (processCpuNanos() - cpuStart) / 1e6;
                if (s == 0 && warmup == 0) firstLoss = lastLoss;
                long gemmStart = System.nanoTime();
                timing.delegate().gemm(mlp, a, b, c);
                sgemmMillis[s] = (System.nanoTime() - gemmStart) / 1e6;
            }
            int profiled = steps;
            Map<String, TimingBackend.Kernel> kernels = timing.kernels();
            long flops = timing.gemmFlops() / profiled;
            TimingBackend.Kernel allocate = kernels.get("allocate");
            Result result = new Result(median(stepMillis), min(stepMillis), max(stepMillis), median(cpuMillis), flops,
                    mlp.flops() / (median(sgemmMillis) * 1e6), rows, labelledRows(), firstLoss, lastLoss,
                    allocate == null ? 0 : allocate.calls(), peakResidentBytes(), weightBytes(model), kernels,
                    timing.gemmsByShape(), profiled);
            print(result, width, mlp);
        }
        return Main.OK;
    }

    /** Bytes the model's weights occupy on the backend, as stored (two per element of a BF16 matrix). */
    private static long weightBytes(LanguageModel model) {
        long bytes = 0;
        for (Tensor w : model.weights().all().values()) bytes += w.size() * w.dtype().bytes;
        return bytes;
    }

    private void checkArguments() {
        if (layers < 1 || heads < 1 || dim < 1 || vocab < 2 || batch < 1 || tokens < 2 || virtualTokens < 1) {
            throw new IllegalArgumentException("--layers, --heads, --dim, --batch and --virtual-tokens must be at least 1,"
                    + " --vocab and --tokens at least 2");
        }
        if (steps < 1 || warmup < 0) {
            throw new IllegalArgumentException("--steps must be at least 1 and --warmup at least 0");
        }
        if (virtualTokens + tokens > positions) {
            throw new IllegalArgumentException("--virtual-tokens " + virtualTokens + " plus --tokens " + tokens
                    + " exceed --positions " + positions + "; raise --positions or shorten the sequence");
        }
        lastLabelled();
    }

    /** K of {@code --labelled last:K}, or {@code tokens} for {@code all}. */
    private int lastLabelled() {
        if (labelled.equals("all")) return tokens;
        if (labelled.startsWith("last:")) {
            int k;
            try {
                k = Integer.parseInt(labelled.substring("last:".length()));
            } catch (NumberFormatException e) {
                k = -1;
            }
            if (k >= 1 && k <= tokens) return k;
        }
        throw new IllegalArgumentException("--labelled " + labelled + ": give all, or last:K with 1 ≤ K ≤ --tokens ("
                + tokens + ")");
    }

    private LanguageModel newModel(Backend backend, int width) {
        if (arch == Arch.GPT2) {
            if (kvHeads != null && kvHeads != heads) {
                throw new IllegalArgumentException("--kv-heads is for llama; gpt2 has as many key/value heads as heads");
            }
            return RandomModels.gpt2(new Gpt2Config(vocab, positions, dim, layers, heads, width, 1e-5,
                    UnaryOp.GELU_TANH, true), backend, seed, weights.storage);
        }
        if (dim % heads != 0) {
            throw new IllegalArgumentException("--dim " + dim + " is not divisible by --heads " + heads);
        }
        int kv = kvHeads != null ? kvHeads : heads;
        return RandomModels.llama(new LlamaConfig("llama", vocab, positions, dim, width, layers, heads, kv, dim / heads,
                1e-5, 10000, RopeLayout.ROTATE_HALF, false, false, false, false), backend, seed, weights.storage);
    }

    /** Random ids, no padding; labels on every token or on the last K of each sequence. */
    private TokenBatch newBatch() {
        return RandomModels.batch(batch, tokens, vocab, lastLabelled(), seed + 1);
    }

    /** Rows scored by the loss: every labelled token, the first one predicted from the prompt's last row. */
    private int labelledRows() {
        return batch * lastLabelled();
    }

    private float[] randomPrompt() {
        return randomValues(virtualTokens * dim, 0.5);
    }

    private float[] randomValues(int n, double std) {
        SplittableRandom random = new SplittableRandom(seed + 2);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float) (std * (2 * random.nextDouble() - 1) * Math.sqrt(3));
        return values;
    }

    private record Result(double medianMillis, double minMillis, double maxMillis, double cpuMillis, long flops,
                          double sgemmGflops,
                          int rows, int labelledRows, double firstLoss, double lastLoss, long allocations,
                          long peakResidentBytes, long weightBytes, Map<String, TimingBackend.Kernel> kernels,
                          Map<String, TimingBackend.Kernel> gemmShapes, int profiledSteps) {

        double gflops() {
            return flops / (medianMillis * 1e6);
        }
    }

    private void print(Result r, int width, Gemm mlp) {
        PrintWriter out = spec.commandLine().getOut();
        double tokensPerSecond = batch * tokens / (r.medianMillis / 1e3);
        int threads = common.threads != null ? common.threads : Runtime.getRuntime().availableProcessors();
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("arch", arch.name().toLowerCase());
            o.put("layers", layers);
            o.put("heads", heads);
            o.put("kv_heads", kvHeads != null ? kvHeads : heads);
            o.put("dim", dim);
            o.put("hidden", width);
            o.put("vocab", vocab);
            o.put("positions", positions);
            o.put("batch", batch);
            o.put("tokens", tokens);
            o.put("virtual_tokens", virtualTokens);
            o.put("labelled", labelled);
            o.put("labelled_rows", r.labelledRows);
            o.put("device", common.device.name().toLowerCase());
            o.put("threads", threads);
            o.put("steps", steps);
            o.put("warmup", warmup);
            o.put("median_ms", r.medianMillis);
            o.put("min_ms", r.minMillis);
            o.put("max_ms", r.maxMillis);
            o.put("cpu_ms", r.cpuMillis);
            o.put("tokens_per_s", tokensPerSecond);
            o.put("flops_per_step", r.flops);
            o.put("gflops_per_s", r.gflops());
            o.put("sgemm", Map.of("m", mlp.m(), "k", mlp.k(), "n", mlp.n(), "gflops_per_s", r.sgemmGflops));
            o.put("sgemm_fraction", r.gflops() / r.sgemmGflops);
            o.put("peak_rss_bytes", r.peakResidentBytes);
            o.put("weights", weights.storage.cliName());
            o.put("weight_bytes", r.weightBytes);
            o.put("allocations_after_warmup", r.allocations);
            o.put("loss_first", r.firstLoss);
            o.put("loss_last", r.lastLoss);
            Map<String, Object> kernels = new LinkedHashMap<>();
            for (TimingBackend.Kernel k : r.kernels.values()) {
                kernels.put(k.name(), Map.of("calls", k.calls() / r.profiledSteps,
                        "ms", k.nanos() / 1e6 / r.profiledSteps));
            }
            o.put("profile", kernels);
            out.println(JsonWriter.compact().write(o));
            out.flush();
            return;
        }
        out.printf("%s: %d layers, dim %d, %d heads%s, hidden %d, vocab %d; batch %d × (%d virtual + %d tokens),"
                        + " labelled %s (%d scored rows); %s, %d threads%n",
                arch.name().toLowerCase(), layers, dim, heads,
                arch == Arch.LLAMA ? " (" + (kvHeads != null ? kvHeads : heads) + " kv)" : "", width, vocab, batch,
                virtualTokens, tokens, labelled, r.labelledRows, common.device.name().toLowerCase(), threads);
        out.printf("step: median %.1f ms (min %.1f, max %.1f) over %d steps after %d warm-up; %.1f ms of CPU time%n",
                r.medianMillis, r.minMillis, r.maxMillis, steps, warmup, r.cpuMillis);
        out.printf("tokens/s: %.1f%n", tokensPerSecond);
        out.printf("FLOPs/step: %.2f G issued (GEMMs); achieved %.1f GFLOP/s%n", r.flops / 1e9, r.gflops());
        out.printf("sgemm %d×%d×%d (M×K×N) in this process: %.1f GFLOP/s; the step reaches %.0f%% of it%n",
                mlp.m(), mlp.k(), mlp.n(), r.sgemmGflops, 100 * r.gflops() / r.sgemmGflops);
        out.printf("weights: %.1f MiB (--weights %s)%n", r.weightBytes / 1048576.0, weights.storage.cliName());
        out.printf("peak resident memory: %s%n", r.peakResidentBytes < 0 ? "unknown (no /proc/self/status)"
                : String.format("%.0f MiB", r.peakResidentBytes / 1048576.0));
        out.printf("loss: %.4f first, %.4f last; backend allocations after warm-up: %d%n", r.firstLoss, r.lastLoss,
                r.allocations);
        if (profile && !r.kernels.isEmpty()) {
            long total = 0;
            for (TimingBackend.Kernel k : r.kernels.values()) total += k.nanos();
            out.printf("profile (per step, average of %d):%n", r.profiledSteps);
            out.printf("  %-18s %10s %7s %8s%n", "kernel", "ms", "share", "calls");
            TimingBackend.Kernel[] sorted = r.kernels.values().toArray(new TimingBackend.Kernel[0]);
            Arrays.sort(sorted, (x, y) -> Long.compare(y.nanos(), x.nanos()));
            for (TimingBackend.Kernel k : sorted) {
                out.printf("  %-18s %10.2f %6.1f%% %8d%n", k.name(), k.nanos() / 1e6 / r.profiledSteps,
                        100.0 * k.nanos() / total, k.calls() / r.profiledSteps);
            }
            out.printf("  %-18s %10.2f (outside kernels: %.2f ms)%n", "all kernels", total / 1e6 / r.profiledSteps,
                    r.medianMillis - total / 1e6 / r.profiledSteps);
            out.printf("GEMMs by shape (batch×m×n×k; per step):%n");
            TimingBackend.Kernel[] shapes = r.gemmShapes.values().toArray(new TimingBackend.Kernel[0]);
            Arrays.sort(shapes, (x, y) -> Long.compare(y.nanos(), x.nanos()));
            for (TimingBackend.Kernel k : shapes) {
                out.printf("  %-26s %10.2f ms %8d calls%n", k.name(), k.nanos() / 1e6 / r.profiledSteps,
                        k.calls() / r.profiledSteps);
            }
        }
        out.flush();
    }

    /** CPU time of the whole process (every thread), or 0 where the JVM does not report it. */
    private static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return Math.max(0, os.getProcessCpuTime());
        }
        return 0;
    }

    /** The process's peak resident set (VmHWM), or -1 where /proc/self/status does not exist. */
    static long peakResidentBytes() {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) return -1;
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring("VmHWM:".length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static double min(double[] values) {
        return Arrays.stream(values).min().orElse(Double.NaN);
    }

    private static double max(double[] values) {
        return Arrays.stream(values).max().orElse(Double.NaN);
    }
}
