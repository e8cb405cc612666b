package dev.promptgrad.train;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.Backends;
import dev.promptgrad.backend.CountingBackend;
import dev.promptgrad.backend.TimingBackend;
import dev.promptgrad.backend.UnaryOp;
import dev.promptgrad.model.Gpt2Config;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.model.RandomModels;
import dev.promptgrad.model.WeightStorage;
import dev.promptgrad.optim.Adam;
import dev.promptgrad.optim.Parameter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The device check's benchmark of our prompt-tuning step, the very step {@code promptgrad train} runs: the models
 * module's GPT-2 (fused blocks, head tied to the token embeddings) of GPT-2-small or -medium shape with Hugging Face's
 * random initialisation ({@link RandomModels}), a batch of random ids with every token labelled, 20 virtual tokens,
 * and one {@link TrainingStep} (forward, loss, backward to the prompt, AdamW on the host copy, upload), each timed on
 * the wall clock after warm-up steps (a step ends by downloading its loss, so it waits for the device); the time
 * reported is the median step, with the fastest and slowest beside it. Peak device memory is the most bytes live on the backend during the timed steps
 * (weights, the step's workspace, the prompt), comparable to {@code torch.cuda.max_memory_allocated()}. One JSON
 * line per configuration goes to stdout and is appended to {@code --out}, the format native-cuda/device/report.py
 * reads beside torch_step.py's; {@code --weights bf16} rows are framework {@code "promptgrad bf16 weights"}. With
 * {@code --profile FILE} every kernel is timed instead ({@link TimingBackend}, each call waited for) and the
 * per-kernel table of the timed steps is appended to FILE. A tool run by the device check, not a test.
 *
 * <pre>
 * java -cp … dev.promptgrad.train.DeviceStepBenchmark --device cuda --models gpt2-small,gpt2-medium \
 *      --precisions fp32,tf32 --weights f32,bf16 --batch 8 --tokens 512 --virtual 20 --warmup 3 --steps 10 \
 *      --out results.jsonl
 * </pre>
 */
public final class DeviceStepBenchmark {

    /** The learning rate of the AdamW updates (the value does not change the time). */
    private static final double LEARNING_RATE = 3e-2;

    /** One configuration's result; {@code peakAllocated} is null on the CPU, which has no device peak. */
    record Result(String framework, String model, String precision, int batch, int tokens, int virtualTokens,
                  double msPerStep, double msFastest, double msSlowest, double tokensPerSecond, Long peakAllocated,
                  double firstLoss, double lastLoss, String device) {

        String json() {
            return String.format(Locale.ROOT, "{\"framework\": \"%s\", \"model\": \"%s\", \"precision\": \"%s\","
                            + " \"batch\": %d, \"tokens\": %d, \"virtual_tokens\": %d, \"ms_per_step\": %.3f,"
                            + " \"ms_fastest\": %.3f, \"ms_slowest\": %.3f, \"tokens_per_s\": %.1f,"
                            + " \"peak_allocated_bytes\": %s, \"peak_reserved_bytes\": null,"
                            + " \"first_loss\": %.6f, \"last_loss\": %.6f, \"device\": \"%s\"}",
                    framework, model, precision, batch, tokens, virtualTokens, msPerStep, msFastest, msSlowest,
                    tokensPerSecond, peakAllocated, firstLoss, lastLoss, device.replace("\"", "'"));
        }
    }

    private DeviceStepBenchmark() {
    }

    public static void main(String[] args) {
        Arguments a = Arguments.parse(args);
        for (String model : a.models) {
            for (WeightStorage weights : a.weights) {
                for (String precision : a.precisions) {
                    Result r = run(a.device, model, precision.equals("tf32"), weights, a.batch, a.tokens,
                            a.virtualTokens, a.warmup, a.steps, a.profile);
                    String line = r.json();
                    System.out.println(line);
                    if (a.out != null && a.profile == null) append(a.out, line);
                }
            }
        }
    }

    /**
     * Builds the model on a fresh backend, runs warm-up and timed steps, and closes everything; with a
     * {@code profile} file (else null) every kernel is timed and the table of the timed steps appended to it.
     */
    static Result run(String device, String modelName, boolean tf32, WeightStorage weights, int batch, int tokens,
                      int virtualTokens, int warmup, int steps, Path profile) {
        Backends.Selection selection = Backends.open(Backends.Device.parse(device), new Backends.Options(tf32));
        CountingBackend counting = new CountingBackend(selection.backend());
        TimingBackend timing = profile == null ? null : new TimingBackend(counting);
        Gpt2Config config = shape(modelName);
        try (Backend backend = timing == null ? counting : timing;
             LanguageModel model = RandomModels.gpt2(config, backend, 7, weights);
             TrainingStep step = new TrainingStep(model, virtualTokens)) {
            List<CausalLmObjective.Batch> batches = List.of(new CausalLmObjective.Batch(model,
                    RandomModels.batch(batch, tokens, config.vocabSize(), tokens, 20240601L), virtualTokens));
            float[] prompt = new float[virtualTokens * config.dim()];   // (virtualTokens, dim), updated in place
            SplittableRandom rnd = new SplittableRandom(20240602L);
            for (int i = 0; i < prompt.length; i++) prompt[i] = (float) (rnd.nextDouble() - 0.5);
            Adam adamW = new Adam(List.of(Parameter.of("prompt_embeddings", virtualTokens, config.dim())),
                    Adam.Settings.ADAMW);
            double firstLoss = step.run(prompt, batches, adamW, LEARNING_RATE, 0).loss();
            for (int i = 1; i < warmup; i++) step.run(prompt, batches, adamW, LEARNING_RATE, 0);
            counting.reset();
            if (timing != null) timing.reset();
            double lastLoss = firstLoss;
            double[] stepMs = new double[steps];
            for (int i = 0; i < steps; i++) {
                long start = System.nanoTime();
                lastLoss = step.run(prompt, batches, adamW, LEARNING_RATE, 0).loss();
                stepMs[i] = (System.nanoTime() - start) / 1e6;
            }
            Arrays.sort(stepMs);
            double ms = steps % 2 == 1 ? stepMs[steps / 2] : (stepMs[steps / 2 - 1] + stepMs[steps / 2]) / 2;
            String precision = tf32 ? "tf32" : "fp32";
            String framework = weights == WeightStorage.BF16 ? "promptgrad bf16 weights" : "promptgrad";
            if (timing != null) {
                append(profile, profileTable(timing, modelName + " " + precision
                        + (weights == WeightStorage.BF16 ? " (bf16 weights)" : "") + ", batch " + batch + " × "
                        + tokens + " tokens + " + virtualTokens + " virtual, " + selection.backend().name(), steps, ms));
            }
            Long peak = selection.backend().name().equals("cpu") ? null : counting.peakLiveBytes();
            return new Result(framework, modelName, precision, batch, tokens, virtualTokens, ms, stepMs[0],
                    stepMs[steps - 1], batch * tokens / (ms / 1000), peak, firstLoss, lastLoss,
                    selection.backend().name());
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
        return table.toString() + "\n";
    }

    /**
     * GPT-2-small (124 M parameters) or -medium (355 M) as transformers' GPT2Config builds them (vocab 50257, 1024
     * positions, gelu_new, tied head), or gpt2-tiny (vocab 61, 2 layers, 32 wide) for a quick run on the CPU.
     */
    static Gpt2Config shape(String name) {
        return switch (name) {
            case "gpt2-small" -> new Gpt2Config(50257, 1024, 768, 12, 12, 3072, 1e-5, UnaryOp.GELU_TANH, true);
            case "gpt2-medium" -> new Gpt2Config(50257, 1024, 1024, 24, 16, 4096, 1e-5, UnaryOp.GELU_TANH, true);
            case "gpt2-tiny" -> new Gpt2Config(61, 64, 32, 2, 4, 128, 1e-5, UnaryOp.GELU_TANH, true);
            default -> throw new IllegalArgumentException("unknown model '" + name
                    + "': use gpt2-small, gpt2-medium or gpt2-tiny");
        };
    }

    private static void append(Path out, String line) {
        try {
            Files.writeString(out, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append the result to " + out, e);
        }
    }

    /** The command line, with the shapes as defaults. */
    private record Arguments(String device, List<String> models, List<String> precisions, List<WeightStorage> weights,
                             int batch, int tokens, int virtualTokens, int warmup, int steps, Path out, Path profile) {
        static Arguments parse(String[] args) {
            String device = "cuda";
            List<String> models = List.of("gpt2-small", "gpt2-medium");
            List<String> precisions = List.of("fp32", "tf32");
            List<WeightStorage> weights = List.of(WeightStorage.F32);
            int batch = 8, tokens = 512, virtualTokens = 20, warmup = 3, steps = 10;
            Path out = null, profile = null;
            for (int i = 0; i < args.length; i++) {
                String value = i + 1 < args.length ? args[i + 1] : null;
                if (value == null) throw new IllegalArgumentException(args[i] + " needs a value");
                switch (args[i++]) {
                    case "--device" -> device = value;
                    case "--models" -> models = List.of(value.split(","));
                    case "--precisions" -> precisions = checked(value, List.of("fp32", "tf32"), "precision");
                    case "--weights" -> weights = checked(value, List.of("f32", "bf16"), "weights").stream()
                            .map(WeightStorage::parse).toList();
                    case "--batch" -> batch = Integer.parseInt(value);
                    case "--tokens" -> tokens = Integer.parseInt(value);
                    case "--virtual" -> virtualTokens = Integer.parseInt(value);
                    case "--warmup" -> warmup = Integer.parseInt(value);
                    case "--steps" -> steps = Integer.parseInt(value);
                    case "--out" -> out = Path.of(value);
                    case "--profile" -> profile = Path.of(value);
                    default -> throw new IllegalArgumentException("unknown option " + args[i - 1]
                            + "; see the class comment");
                }
            }
            if (warmup < 1 || steps < 1) throw new IllegalArgumentException("--warmup and --steps must be at least 1");
            return new Arguments(device, models, precisions, weights, batch, tokens, virtualTokens, warmup, steps, out,
                    profile);
        }

        private static List<String> checked(String value, List<String> allowed, String what) {
            List<String> chosen = new ArrayList<>();
            for (String v : value.split(",")) {
                if (!allowed.contains(v)) throw new IllegalArgumentException(what + " " + v + ": use one of " + allowed);
                chosen.add(v);
            }
            return chosen;
        }
    }
}
