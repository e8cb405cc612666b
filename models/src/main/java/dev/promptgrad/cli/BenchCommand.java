package dev.promptgrad.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/**
 * {@code promptgrad bench}: timings that need no files, one subcommand each ({@code step}). Only a container; it
 * prints its usage when no subcommand is given. JMH benchmarks of the engine live in the bench module.
 */
@Command(name = "bench", description = "Time promptgrad on randomly initialised models (no files needed).",
        subcommands = {BenchStepCommand.class}, synopsisSubcommandLabel = "COMMAND")
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Main.USAGE;
    }
}
