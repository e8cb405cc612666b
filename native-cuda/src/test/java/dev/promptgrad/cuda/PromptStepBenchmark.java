package dev.promptgrad.cuda;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.TimingBackend;
import dev.promptgrad.backend.cpu.CpuBackend;
import dev.promptgrad.ops.CrossEntropy;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;
import dev.promptgrad.tensor.Scope;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The device check's benchmark of our prompt-tuning step: a {@link Gpt2Stack} of GPT-2-small or -medium shape
 * with random weights, a batch of random token ids all labelled, 20 virtual tokens, AdamW on the prompt. One step
 * is forward, the loss, backward to the prompt, and the optimizer update (gradient downloaded, prompt uploaded),
 * timed on the wall clock after warm-up steps; peak device memory is taken over the timed steps. It prints one line
 * per configuration and appends it as JSON to {@code --out}, the format native-cuda/device/report.py reads beside
 * torch_step.py's. With {@code --profile FILE} every kernel is timed instead ({@link TimingBackend}: each call waits
 * for the device, so the step is slower) and the per-kernel table of the timed steps is appended to FILE; nothing
 * goes to {@code --out} then. A tool, not a test.
 *
 * <pre>
 * java -cp … dev.promptgrad.cuda.PromptStepBenchmark --device cuda --models gpt2-small,gpt2-medium \
 *      --precisions fp32,tf32 --batch 8 --tokens 512 --virtual 20 --warmup 3 --steps 10 --out results.jsonl
 * </pre>
 */
public final class PromptStepBenchmark {

    /** One configuration's result. Memory is null on the CPU, which has no device peak. */
    record Result(String model, String precision, int batch, int tokens, int virtualTokens, double msPerStep,
                  double tokensPerSecond, Long peakAllocated, Long peakReserved, double firstLoss, double lastLoss,
                  String device) {

        String json() {
            return String.format(Locale.ROOT, "{\"framework\": \"promptgrad\", \"model\": \"%s\", \"precision\": \"%s\","
                            + " \"batch\": %d, \"tokens\": %d, \"virtual_tokens\": %d, \"ms_per_step\": %.3f,"
                            + " \"tokens_per_s\": %.1f, \"peak_allocated_bytes\": %s, \"peak_reserved_bytes\": %s,"
                            + " \"first_loss\": %.6f, \"last_loss\": %.6f, \"device\": \"%s\"}",
                    model, precision, batch, tokens, virtualTokens, msPerStep, tokensPerSecond, peakAllocated,
                    peakReserved, firstLoss, lastLoss, device.replace("\"", "'"));
        }
    }

    private PromptStepBenchmark() {
    }

    public static void main(String[] args) {
        Arguments a = Arguments.parse(args);
        for (String model : a.models) {
            for (String precision : a.precisions) {
                Result r = run(a.device, shape(model), precision.equals("tf32"), a.batch, a.tokens, a.virtualTokens,
                        a.warmup, a.steps, a.profile);
                String line = r.json();
                System.out.println(line);
                if (a.out != null && a.profile == null) append(a.out, line);
            }
        }
    }

    /**
     * Builds the model on a fresh backend, runs warm-up and timed steps, and closes everything; with a
     * {@code profile} file (else null) every kernel is timed and the table of the timed steps appended to it.
     */
    static Result run(String device, Gpt2Stack.Shape shape, boolean tf32, int batch, int tokens, int virtualTokens,
                      int warmup, int steps, Path profile) {
        Backend opened = open(device, tf32);
        TimingBackend timing = profile == null ? null : new TimingBackend(opened);
        try (Backend backend = timing == null ? opened : timing) {
            String description = opened instanceof CudaBackend cuda ? cuda.describeDevice() : "cpu";
            if (opened instanceof CudaBackend cuda) cuda.loadKernels();
            SplittableRandom rnd = new SplittableRandom(20240601L);
            int[] ids = new int[batch * tokens];                      // (batch, tokens)
            for (int i = 0; i < ids.length; i++) ids[i] = rnd.nextInt(shape.vocab());
            int[][] labels = new int[batch][virtualTokens + tokens];  // PEFT: -100 for the virtual tokens
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < virtualTokens + tokens; t++) {
                    labels[b][t] = t < virtualTokens ? CrossEntropy.IGNORE : ids[b * tokens + t - virtualTokens];
                }
            }
            int[] targets = Gpt2Stack.shiftedTargets(labels);
            float[] prompt = new float[virtualTokens * shape.dim()];   // (virtualTokens, dim)
            for (int i = 0; i < prompt.length; i++) prompt[i] = (float) (rnd.nextDouble() - 0.5);
            try (Gpt2Stack model = Gpt2Stack.random(backend, shape, 7);
                 Scope inputs = new Scope(backend, "benchmark prompt");
                 Workspace workspace = new Workspace(backend, "benchmark step")) {
                Tensor promptTensor = inputs.of(prompt, virtualTokens, shape.dim());
                Tape tape = new Tape(backend, workspace);
                Adam adamW = new Adam(List.of(Parameter.of("prompt_embeddings", virtualTokens, shape.dim())),
                        Adam.Settings.ADAMW);
                double firstLoss = step(backend, tape, model, promptTensor, prompt, adamW, ids, batch, tokens, targets);
                for (int i = 1; i < warmup; i++) step(backend, tape, model, promptTensor, prompt, adamW, ids, batch, tokens, targets);
                if (opened instanceof CudaBackend cuda) {
                    // the first step grew the workspace chunk by chunk and the second merged them: drop those
                    // cached chunks and measure the peaks of steady steps, as torch_step.py does after warm-up
                    cuda.releaseCachedMemory();
                    cuda.resetPeakMemory();
                }
                if (timing != null) timing.reset();
                double lastLoss = firstLoss;
                long start = System.nanoTime();
                for (int i = 0; i < steps; i++) {
                    lastLoss = step(backend, tape, model, promptTensor, prompt, adamW, ids, batch, tokens, targets);
                }
                double ms = (System.nanoTime() - start) / 1e6 / steps;
                if (timing != null) {
                    append(profile, profileTable(timing, shape.name() + " " + (tf32 ? "tf32" : "fp32") + ", batch "
                            + batch + " × " + tokens + " tokens + " + virtualTokens + " virtual, " + description,
                            steps, ms));
                }
                Long allocated = opened instanceof CudaBackend cuda ? cuda.peakLiveBytes() : null;
                Long reserved = opened instanceof CudaBackend cuda ? cuda.peakReservedBytes() : null;
                return new Result(shape.name(), tf32 ? "tf32" : "fp32", batch, tokens, virtualTokens, ms,
                        batch * tokens / (ms / 1000), allocated, reserved, firstLoss, lastLoss, description);
            }
        }
    }

    /** Time per step of each kernel kind, largest first, then the ten costliest GEMM shapes. */
    static String profileTable(TimingBackend timing, String title, int steps, double msPerStep) {
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT,
                "## %s%n%.1f ms per step with every kernel waited for; kernels %.1f ms of it%n%n"
                        + "| kernel | calls/step | ms/step | share |%n|---|---:|---:|---:|%n", title, msPerStep,
                timing.totalNanos() / 1e6 / steps));
        double total = Math.max(1, timing.totalNanos());
        timing.kernels().values().stream().sorted((x, y) -> Long.compare(y.nanos(), x.nanos())).forEach(k ->
                table.append(String.format(Locale.ROOT, "| %s | %d | %.2f | %.1f%% |%n", k.name(), k.calls() / steps,
                        k.nanos() / 1e6 / steps, 100 * k.nanos() / total)));
        table.append(String.format(Locale.ROOT, "%n| GEMM (batch×m×n×k) | calls/step | ms/step |%n|---|---:|---:|%n"));
        timing.gemmsByShape().values().stream().sorted((x, y) -> Long.compare(y.nanos(), x.nanos())).limit(10)
                .forEach(k -> table.append(String.format(Locale.ROOT, "| %s | %d | %.2f |%n", k.name(),
                        k.calls() / steps, k.nanos() / 1e6 / steps)));
        return table.toString();
    }

    /** One prompt-tuning step; returns the loss before the update. */
    private static double step(Backend backend, Tape tape, Gpt2Stack model, Tensor promptTensor, float[] prompt,
                               Adam adamW, int[] ids, int batch, int tokens, int[] targets) {
        tape.reset();
        Variable p = tape.parameter(promptTensor, "prompt");
        Variable loss = CrossEntropy.apply(tape, model.logits(tape, p, ids, batch, tokens, null), targets);
        float[] grad = backend.download(tape.backward(loss).of(p));
        adamW.step(prompt, grad, 3e-2);
        backend.upload(prompt, promptTensor);
        return backend.downloadDouble(loss.value())[0];
    }

    private static Backend open(String device, boolean tf32) {
        return switch (device) {
            case "cuda" -> new CudaBackend(new CudaBackend.Options(0, tf32, false));
            case "cpu" -> new CpuBackend();
            default -> throw new IllegalArgumentException("--device must be cuda or cpu, not " + device);
        };
    }

    /** gpt2-small, gpt2-medium, or gpt2-tiny (the golden fixture's sizes, for a quick run on the CPU). */
    static Gpt2Stack.Shape shape(String name) {
        return switch (name) {
            case "gpt2-small" -> Gpt2Stack.Shape.SMALL;
            case "gpt2-medium" -> Gpt2Stack.Shape.MEDIUM;
            case "gpt2-tiny" -> Gpt2GoldenTest.TINY;
            default -> throw new IllegalArgumentException("unknown model '" + name + "': use gpt2-small, gpt2-medium or gpt2-tiny");
        };
    }

    private static void append(Path out, String line) {
        try {
            Files.writeString(out, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append the result to " + out, e);
        }
    }

    /** The command line, with the shapes as defaults. */
    private record Arguments(String device, List<String> models, List<String> precisions, int batch, int tokens,
                             int virtualTokens, int warmup, int steps, Path out, Path profile) {
        static Arguments parse(String[] args) {
            String device = "cuda";
            List<String> models = List.of("gpt2-small", "gpt2-medium");
            List<String> precisions = List.of("fp32", "tf32");
            int batch = 8, tokens = 512, virtualTokens = 20, warmup = 3, steps = 10;
            Path out = null, profile = null;
            for (int i = 0; i < args.length; i++) {
                String value = i + 1 < args.length ? args[i + 1] : null;
                if (value == null) throw new IllegalArgumentException(args[i] + " needs a value");
                switch (args[i++]) {
                    case "--device" -> device = value;
                    case "--models" -> models = List.of(value.split(","));
                    case "--precisions" -> precisions = checkedPrecisions(value);
                    case "--batch" -> batch = Integer.parseInt(value);
                    case "--tokens" -> tokens = Integer.parseInt(value);
                    case "--virtual" -> virtualTokens = Integer.parseInt(value);
                    case "--warmup" -> warmup = Integer.parseInt(value);
                    case "--steps" -> steps = Integer.parseInt(value);
                    case "--out" -> out = Paths.get(value);
                    case "--profile" -> profile = Paths.get(value);
                    default -> throw new IllegalArgumentException("unknown option " + args[i - 1] + "; see the class comment");
                }
            }
            if (warmup < 1 || steps < 1) throw new IllegalArgumentException("--warmup and --steps must be at least 1");
            return new Arguments(device, models, precisions, batch, tokens, virtualTokens, warmup, steps, out, profile);
        }

        private static List<String> checkedPrecisions(String value) {
            List<String> precisions = new ArrayList<>();
            for (String p : value.split(",")) {
                if (!p.equals("fp32") && !p.equals("tf32")) throw new IllegalArgumentException("precision " + p + ": use fp32 or tf32");
                precisions.add(p);
            }
            return precisions;
        }
    }
}
