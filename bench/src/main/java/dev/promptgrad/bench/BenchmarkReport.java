package dev.promptgrad.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.Locale;

/**
 * Runs the engine's benchmarks through JMH and prints one Markdown table of medians (over measurement
 * iterations), with GFLOP/s for the GEMMs, for closing notes. Arguments are JMH's own (e.g. {@code -f 1 -i 5});
 * the default selection is the GEMM and GPT-2-block benchmarks. GEMM rows get GFLOP/s,
 * generation rows tokens/s.
 * Run: {@code java -cp bench/target/benchmarks.jar dev.promptgrad.bench.BenchmarkReport}.
 */
public final class BenchmarkReport {

    private BenchmarkReport() {
    }

    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cli = new CommandLineOptions(args);
        OptionsBuilder options = new OptionsBuilder();
        options.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            options.include(GemmBenchmark.class.getSimpleName()).include(Gpt2BlockBenchmark.class.getSimpleName());
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        System.out.println();
        System.out.println("| benchmark | params | median ms | min ms | max ms | rate (at the median) |");
        System.out.println("|---|---|---|---|---|---|");
        for (RunResult r : results) {
            var stats = r.getPrimaryResult().getStatistics();
            String label = r.getParams().getBenchmark().replaceFirst(".*\\.bench\\.", "");
            StringBuilder params = new StringBuilder();
            for (String key : r.getParams().getParamsKeys()) {
                params.append(key).append('=').append(r.getParams().getParam(key)).append(' ');
            }
            double median = stats.getPercentile(50);
            String gflops = "";
            if (label.startsWith("GemmBenchmark")) {
                long flops = GemmBenchmark.flops(Integer.parseInt(r.getParams().getParam("m")), r.getParams().getParam("shape"));
                gflops = String.format(Locale.ROOT, "%.1f GFLOP/s", flops / (median * 1e6));
            } else if (label.startsWith("GenerationBenchmark")) {
                gflops = String.format(Locale.ROOT, "%.1f tokens/s", GenerationBenchmark.TOKENS / (median / 1e3));
            }
            System.out.printf(Locale.ROOT, "| %s | %s| %.2f | %.2f | %.2f | %s |%n",
                    label, params, median, stats.getMin(), stats.getMax(), gflops);
        }
    }
}
