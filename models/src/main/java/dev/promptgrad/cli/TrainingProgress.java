package dev.promptgrad.cli;

import dev.promptgrad.train.TrainingListener;
import dev.promptgrad.train.TrainingPlan;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What {@code promptgrad train} shows while it runs. On a terminal: one status line redrawn in place, a bar
 * with the step, loss, held-out loss, tokens per second and the time left. Otherwise (a pipe, a log file, a
 * test): plain lines, one for the first and last steps, each evaluation, each checkpoint, and at most one every
 * {@value #PLAIN_LINE_SECONDS} seconds in between. It only prints.
 */
final class TrainingProgress implements TrainingListener {
    private static final int PLAIN_LINE_SECONDS = 10;
    private static final int BAR_WIDTH = 24;

    private final PrintWriter out;
    private final boolean terminal;
    private int fromStep;
    private double lastPlainLine = Double.NEGATIVE_INFINITY;
    private double evalLoss = Double.NaN;
    private StepReport last;
    private boolean lineOpen;

    TrainingProgress(PrintWriter out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override
    public void started(TrainingPlan plan, int fromStep, String dataDescription) {
        this.fromStep = fromStep;
        println((fromStep > 0 ? "resuming at step " + fromStep + " of " : "training ") + plan.totalSteps() + " steps ("
                + plan.examplesPerStep() + " examples each, " + plan.stepsPerEpoch() + " per epoch) on "
                + dataDescription);
    }

    @Override
    public void stepDone(StepReport report) {
        last = report;
        if (terminal) {
            out.print("\r" + bar(report) + "\033[K");
            out.flush();
            lineOpen = true;
        } else if (report.step() == fromStep + 1 || report.step() == report.totalSteps()
                || report.seconds() - lastPlainLine >= PLAIN_LINE_SECONDS) {
            lastPlainLine = report.seconds();
            println(status(report));
        }
    }

    @Override
    public void evaluated(int step, double loss, boolean best) {
        evalLoss = loss;
        println("step " + step + ": held-out loss " + number(loss) + (best ? " (best so far)" : ""));
    }

    @Override
    public void checkpointSaved(int step, Path folder) {
        println("step " + step + ": checkpoint saved in " + folder);
    }

    @Override
    public void note(String message) {
        println("note: " + message);
    }

    @Override
    public void warning(String message) {
        println("warning: " + message);
    }

    /** Ends the status line, if one is open. */
    void finish() {
        if (lineOpen) {
            out.println();
            lineOpen = false;
        }
        out.flush();
    }

    private void println(String line) {
        if (lineOpen) out.print("\r\033[K");
        out.println(line);
        if (terminal && last != null) {
            out.print(bar(last));
            lineOpen = true;
        } else {
            lineOpen = false;
        }
        out.flush();
    }

    private String bar(StepReport report) {
        int filled = (int) Math.round(BAR_WIDTH * (double) report.step() / report.totalSteps());
        return "[" + "#".repeat(filled) + ".".repeat(BAR_WIDTH - filled) + "] " + status(report);
    }

    private String status(StepReport report) {
        int done = report.step() - fromStep;
        double secondsLeft = done > 0 ? report.seconds() / done * (report.totalSteps() - report.step()) : Double.NaN;
        return "step " + report.step() + "/" + report.totalSteps()
                + String.format(Locale.ROOT, " epoch %.2f loss %.4f", report.epoch(), report.loss())
                + (Double.isNaN(evalLoss) ? "" : String.format(Locale.ROOT, " eval %.4f", evalLoss))
                + String.format(Locale.ROOT, " lr %.3g %.0f tok/s ETA ", report.lr(), report.tokensPerSecond())
                + duration(secondsLeft);
    }

    private static String number(double value) {
        return String.format(Locale.ROOT, "%.4f", value);
    }

    private static String duration(double seconds) {
        if (!Double.isFinite(seconds)) return "?";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s % 3600 / 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
}
