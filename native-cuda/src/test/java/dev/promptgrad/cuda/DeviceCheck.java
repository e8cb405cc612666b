package dev.promptgrad.cuda;

import org.junit.platform.engine.DiscoverySelector;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * The device check's test run, for a machine with a GPU and no Maven: prints what the CUDA probe found, then runs
 * the CUDA contract suite, the GPU-only backend tests, the golden fixtures and the selection tests with the JUnit
 * launcher, and, when the models test-jar is on the class path, the model tests that run on every backend (run them
 * with -Dpromptgrad.test.backends=cuda). Prints the summary with every failure. Run it with
 * -Dpromptgrad.requireCuda=true so nothing is skipped; a skipped or failed test, or a missing model test class,
 * makes it end with an exception (exit status 1). Test class names as arguments run those classes alone (the
 * device check's compute-sanitizer stage runs the contract suite so). A tool, not a test.
 */
public final class DeviceCheck {

    private DeviceCheck() {
    }

    /** The models module's tests that take their backends from TestBackends; found by name, not compiled against. */
    static final List<String> MODEL_TESTS = List.of("dev.promptgrad.model.GoldenFixtureTest",
            "dev.promptgrad.model.ScoredRowsLossTest", "dev.promptgrad.model.KeyPositionsTest",
            "dev.promptgrad.model.RandomModelsTest", "dev.promptgrad.encoder.BertGoldenTest",
            "dev.promptgrad.generate.Stories260KTest", "dev.promptgrad.generate.DecodingTest",
            "dev.promptgrad.hard.PromptObjectiveTest", "dev.promptgrad.hard.VocabularyIndexTest",
            "dev.promptgrad.model.Bf16WeightsTest", "dev.promptgrad.model.HuggingFaceFamiliesTest");

    public static void main(String[] args) {
        System.out.println("CUDA probe: " + CudaAvailability.probe().describe());
        List<DiscoverySelector> selectors = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        if (args.length > 0) {
            for (String name : args) selectors.add(selectClass(name));
            System.out.println("test classes: " + String.join(", ", args));
        } else {
            selectors.addAll(List.of(selectClass(CudaAvailabilityTest.class), selectClass(BackendsCudaTest.class),
                    selectClass(CudaBackendContractTest.class), selectClass(CudaBackendTest.class),
                    selectClass(Gpt2GoldenTest.class)));
            for (String name : MODEL_TESTS) {
                try {
                    selectors.add(selectClass(Class.forName(name)));
                } catch (ClassNotFoundException e) {
                    missing.add(name);
                }
            }
            System.out.println(missing.isEmpty() ? "model tests: all " + MODEL_TESTS.size() + " classes, on backends "
                    + System.getProperty("promptgrad.test.backends", "(TestBackends' default)")
                    : "model tests: missing " + missing + " (is the models test-jar on the class path?)");
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectors).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary summary = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        summary.printTo(out);
        summary.printFailuresTo(out, 30);
        out.flush();
        long bad = summary.getTotalFailureCount() + summary.getTestsSkippedCount() + summary.getTestsAbortedCount()
                + summary.getContainersFailedCount() + summary.getContainersSkippedCount();
        if (bad > 0 || summary.getTestsSucceededCount() == 0 || !missing.isEmpty()) {
            throw new IllegalStateException("device check: " + summary.getTotalFailureCount() + " failed, "
                    + (summary.getTestsSkippedCount() + summary.getContainersSkippedCount()) + " skipped, "
                    + summary.getTestsAbortedCount() + " aborted of " + summary.getTestsFoundCount() + " tests; "
                    + missing.size() + " model test classes missing");
        }
        System.out.println("device check: all " + summary.getTestsSucceededCount() + " tests passed");
    }
}
