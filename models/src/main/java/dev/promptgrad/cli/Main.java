package dev.promptgrad.cli;

import dev.promptgrad.checkpoint.CheckpointException;
import dev.promptgrad.data.DataFormatException;
import dev.promptgrad.encoder.EncoderFormatException;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.onnx.OnnxFormatException;
import dev.promptgrad.prompt.AdapterFormatException;
import dev.promptgrad.safetensors.SafetensorsException;
import dev.promptgrad.tokenizer.TokenizerFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.Callable;

/**
 * The {@code promptgrad} command line: picocli subcommands ({@code generate}, {@code grad}, {@code eval},
 * {@code inspect}, {@code convert}, {@code trace}, {@code train}, {@code hard}, {@code discretize}, {@code embed},
 * {@code demo}) over the library.
 * {@link #run} is the whole program and returns its exit code (0 done, 1 failed, 2 the command line itself was
 * wrong); only {@link #main} exits. A failure is one line on the error stream, {@code error: <what and where>},
 * never a stack trace unless {@code --debug} is given. Flags and JSON output are documented in docs/cli.md.
 */
@Command(name = "promptgrad",
        description = "Learn a frozen transformer's prompt. Run a command with --help for its flags.",
        subcommands = {GenerateCommand.class, GradCommand.class, EvalCommand.class, InspectCommand.class,
                ConvertCommand.class, TraceCommand.class, TrainCommand.class,
                HardCommand.class,
                DiscretizeCommand.class, EmbedCommand.class, DemoCommand.class,
                BenchCommand.class},
        synopsisSubcommandLabel = "COMMAND")
public final class Main implements Callable<Integer> {

    /** The command ran and did what was asked. */
    public static final int OK = 0;
    /** The command could not do it: a missing or malformed file, a value out of range, a failed write. */
    public static final int FAILED = 1;
    /** The command line was wrong: an unknown flag, a missing required one, a value of the wrong type. */
    public static final int USAGE = 2;

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command line {@code args}, writing results to {@code out} and problems to {@code err}. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        PrintWriter outWriter = new PrintWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), true);
        PrintWriter errWriter = new PrintWriter(new OutputStreamWriter(err, StandardCharsets.UTF_8), true);
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(outWriter);
        cli.setErr(errWriter);
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setParameterExceptionHandler((e, givenArgs) -> {
            CommandLine failed = e.getCommandLine();
            errWriter.println("error: " + oneLine(e.getMessage()) + " (see '" + failed.getCommandSpec().qualifiedName()
                    + " --help')");
            return USAGE;
        });
        cli.setExecutionExceptionHandler((e, failed, parsed) -> {
            report(e, debug(failed), errWriter);
            return FAILED;
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError | StackOverflowError e) {
            report(e, false, errWriter);
            return FAILED;
        } finally {
            outWriter.flush();
            errWriter.flush();
        }
    }

    /** No command given: the overview goes to the error stream and the exit code says it was a usage error. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    private static boolean debug(CommandLine command) {
        OptionSpec option = command.getCommandSpec().findOption("--debug");
        return option != null && Boolean.TRUE.equals(option.getValue());
    }

    private static void report(Throwable e, boolean debug, PrintWriter err) {
        err.println("error: " + describe(e));
        if (debug) e.printStackTrace(err);
        err.flush();
    }

    /** One line saying what went wrong; the library's messages already name the file, line or tensor. */
    static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : oneLine(e.getMessage());
        if (e instanceof NoSuchFileException) return "no such file: " + message;
        if (e instanceof IOException) return message;
        if (e instanceof OutOfMemoryError) {
            return "out of memory (" + message + "); give Java more, e.g. PROMPTGRAD_JAVA_OPTS=-Xmx16g";
        }
        if (e instanceof IllegalArgumentException || e instanceof IllegalStateException
                || e instanceof UncheckedIOException || e instanceof JsonException || e instanceof SafetensorsException
                || e instanceof TokenizerFormatException || e instanceof CheckpointException
                || e instanceof DataFormatException || e instanceof AdapterFormatException
                || e instanceof EncoderFormatException || e instanceof OnnxFormatException) {
            return message;
        }
        return "unexpected " + e.getClass().getName() + ": " + message
                + " (this is a bug in promptgrad; rerun with --debug for the stack trace)";
    }

    private static String oneLine(String message) {
        return message.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}
