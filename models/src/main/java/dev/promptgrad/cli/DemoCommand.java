package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.demo.TopicDemo;
import dev.promptgrad.embedding.ClassifyObjective;
import dev.promptgrad.embedding.LabelledText;
import dev.promptgrad.encoder.Encoder;
import dev.promptgrad.encoder.EncoderCatalog;
import dev.promptgrad.encoder.PromptPlacement;
import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.json.JsonWriter;
import dev.promptgrad.train.TrainingConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * {@code promptgrad demo}: the offline quickstart. Loads all-MiniLM-L6-v2 from the jar Maven fetched, runs
 * {@link TopicDemo} (held-out accuracy without a prompt, a short classify training run with train's progress bar,
 * held-out accuracy with the trained prompt), and prints the two accuracies, a few texts the prompt changed, the
 * time taken, where the adapter went and the commands to try next. Writes the adapter folder (and a copy of the
 * demo's texts in its {@code data/}); never overwrites an earlier one.
 */
@Command(name = "demo", sortOptions = false,
        description = "Train a soft prompt on MiniLM to sort short texts into five topics, offline; show the gain.")
final class DemoCommand implements Callable<Integer> {

    static final String DEFAULT_OUT = "promptgrad-demo-adapter";
    private static final long INTERRUPT_WAIT_SECONDS = 60;
    private static final int CHANGED_EXAMPLES = 3;

    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Where to write the adapter, missing or empty (default: ./" + DEFAULT_OUT
                    + ", or the first free"
                    + " " + DEFAULT_OUT + "-N).")
    Path out;

    @Option(names = "--steps", paramLabel = "N", description = "Training steps (default " + TopicDemo.STEPS + ").")
    Integer steps;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seeds the prompt's first values and the shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--placement", paramLabel = "WHERE",
            description = "before-cls or after-cls (default: the measured default, see docs/encoders.md).")
    String placement;

    @Option(names = "--json", description = "Print one JSON object at the end instead of sentences (no progress bar).")
    boolean json;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        int stepCount = steps != null ? steps : TopicDemo.STEPS;
        if (stepCount < 1) throw new IllegalArgumentException("--steps must be at least 1, got " + stepCount);
        PromptPlacement where = placement == null ? TrainingConfig.Objective.DEFAULT_PLACEMENT
                : PromptPlacement.parse(placement);
        Path folder = out != null ? out : freeFolder();
        PrintWriter printer = spec.commandLine().getOut();
        TrainingProgress progress = new TrainingProgress(json ? new PrintWriter(PrintWriter.nullWriter()) : printer,
                !json && System.console() != null);
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(1);
        Thread interrupt = new Thread(() -> {
            stop.set(true);
            try {
                finished.await(INTERRUPT_WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "promptgrad demo: save on interrupt");
        Runtime.getRuntime().addShutdownHook(interrupt);
        long started = System.nanoTime();
        try (Backend backend = common.openBackend(spec.commandLine().getErr());
             Encoder encoder = EncoderCatalog.load(EncoderCatalog.MINILM, backend)) {
            TrainingConfig config = TopicDemo.config(EncoderCatalog.MINILM, stepCount, seed, where);
            if (!json) {
                printer.println("promptgrad demo: teach all-MiniLM-L6-v2 (from the Maven jar, offline) to sort short"
                        + " texts into five topics with a soft prompt of " + config.virtualTokens() + " vectors");
                printer.println("held-out accuracy is measured on 120 texts the training never sees (running on "
                        + backend.name() + threads(backend) + ")");
                printer.flush();
            }
            TopicDemo.Result result = TopicDemo.run(encoder, config, folder, progress, stop);
            progress.finish();
            writeTexts(folder);
            double totalSeconds = (System.nanoTime() - started) / 1e9;
            if (json) {
                printJson(printer, result, folder, totalSeconds);
            } else {
                printText(printer, result, folder, totalSeconds, where);
            }
        } finally {
            progress.finish();
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(interrupt);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already exiting (Ctrl-C): the hook has run and is waiting for this countdown
            }
        }
        return Main.OK;
    }

    private void printText(PrintWriter printer, TopicDemo.Result result, Path folder, double totalSeconds,
                           PromptPlacement where) {
        ClassifyObjective.Accuracy before = result.before(), after = result.after();
        double gain = 100 * (after.fraction() - before.fraction());
        printer.println(String.format(Locale.ROOT,
                "held-out accuracy without a prompt (nearest topic):     %5.1f%% (%d of %d)",
                100 * before.fraction(), before.correct(), before.total()));
        printer.println(String.format(Locale.ROOT,
                "held-out accuracy with the trained prompt:              %5.1f%% (%d of %d), %s",
                100 * after.fraction(), after.correct(), after.total(),
                gain > 0 ? String.format(Locale.ROOT, "%.1f points better", gain)
                        : gain == 0 ? "no change" : String.format(Locale.ROOT, "%.1f points worse", -gain)));
        List<LabelledText> heldOut = TopicDemo.data().eval();
        List<String> labels = result.labels();
        int shown = 0;
        for (int i = 0; i < heldOut.size() && shown < CHANGED_EXAMPLES; i++) {
            int own = labels.indexOf(heldOut.get(i).label());
            if (result.before().predicted()[i] != own && result.after().predicted()[i] == own) {
                if (shown++ == 0) printer.println("texts the prompt put right, for example:");
                printer.println("  " + JsonWriter.compact().write(heldOut.get(i).text()) + ": "
                        + labels.get(result.before().predicted()[i]) + " -> " + labels.get(own));
            }
        }
        printer.println(String.format(Locale.ROOT, "time: %s training (%d steps), %s in all",
                duration(result.seconds()), result.training().steps(), duration(totalSeconds)));
        printer.println("adapter: " + folder
                + " (PEFT PROMPT_TUNING, task FEATURE_EXTRACTION; loss curve in loss_curve.png;"
                + " the texts in data/)");
        String dir = quoted(folder.toString());
        boolean otherPlacement = where != TrainingConfig.Objective.DEFAULT_PLACEMENT;
        String placementFlag = otherPlacement ? " --placement " + where.cliName() : "";
        printer.println();
        printer.println("next, try:");
        printer.println("  ./promptgrad embed --model minilm --prompt " + dir
                + " --text \"My knee still aches after Sunday's match.\"");
        printer.println("  ./promptgrad eval --model minilm --prompt " + dir + " --data "
                + quoted(folder.resolve("data")
                .resolve("topics-heldout.jsonl").toString()));
        printer.println("  ./promptgrad inspect --model minilm --prompt " + dir);
        printer.println("  ./promptgrad train --model minilm --objective classify" + placementFlag + " --data "
                + quoted(folder.resolve("data").resolve("topics-train.jsonl").toString()) + " --eval "
                + quoted(folder.resolve("data").resolve("topics-heldout.jsonl").toString()) + " --label-text '"
                + TopicDemo.LABEL_TEXT + "' --virtual-tokens " + TopicDemo.VIRTUAL_TOKENS + " --lr "
                + TopicDemo.LEARNING_RATE + " --schedule cosine --batch " + TopicDemo.BATCH + " --steps "
                + result.training().totalSteps() + " --out my-topics-adapter");
        printer.println("  and in Java: Embedder.open(\"minilm\", Path.of("
                + JsonWriter.compact().write(folder.toString())
                + ")).embed(texts)   (see README.md, \"Embeddings in Java\")");
        printer.flush();
    }

    private void printJson(PrintWriter printer, TopicDemo.Result result, Path folder, double totalSeconds) {
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("accuracy_without_prompt", result.before().fraction());
        summary.put("accuracy", result.after().fraction());
        summary.put("held_out", result.after().total());
        summary.put("steps", result.training().steps());
        summary.put("training_seconds", result.seconds());
        summary.put("seconds", totalSeconds);
        summary.put("out", folder.toString());
        printer.println(JsonWriter.compact().write(summary));
        printer.flush();
    }

    /** The demo's texts beside the adapter, in the form train and eval read. */
    private static void writeTexts(Path folder) {
        Path data = folder.resolve("data");
        try {
            Files.createDirectories(data);
            for (String resource : List.of(TopicDemo.TRAIN_RESOURCE, TopicDemo.HELD_OUT_RESOURCE)) {
                String name = resource.substring(resource.lastIndexOf('/') + 1);
                try (var in = DemoCommand.class.getResourceAsStream(resource)) {
                    if (in == null) {
                        throw new IllegalStateException(resource + " is missing from the classpath; rebuild"
                                + " promptgrad");
                    }
                    AtomicFile.write(data.resolve(name), in.readAllBytes());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the demo's texts into " + data + ": " + e.getMessage(), e);
        }
    }

    /** ./promptgrad-demo-adapter if it is missing or empty, else the first such folder with -2, -3, … */
    private static Path freeFolder() {
        for (int n = 1; ; n++) {
            Path candidate = Path.of(n == 1 ? DEFAULT_OUT : DEFAULT_OUT + "-" + n);
            if (!Files.exists(candidate)) return candidate;
            if (Files.isDirectory(candidate)) {
                try (Stream<Path> entries = Files.list(candidate)) {
                    if (entries.findAny().isEmpty()) return candidate;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot list " + candidate + ": " + e.getMessage(), e);
                }
            }
        }
    }

    /** ", N threads" for the cpu device, else nothing. */
    private String threads(Backend backend) {
        if (!backend.name().equals("cpu")) return "";
        int count = common.threads != null ? common.threads : Runtime.getRuntime().availableProcessors();
        return ", " + count + (count == 1 ? " thread" : " threads");
    }

    private static String quoted(String path) {
        return path.matches("[A-Za-z0-9_./-]+") ? path : "'" + path.replace("'", "'\\''") + "'";
    }

    private static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60)
                : String.format(Locale.ROOT, "%.1fs", seconds);
    }
}
