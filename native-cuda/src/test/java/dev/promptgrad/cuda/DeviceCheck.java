package dev.promptgrad.cuda;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

/**
 * The device check's test run, for a machine with a GPU and no Maven: prints what the CUDA probe found, then runs
 * the CUDA contract suite, the GPU-only backend tests, the golden fixtures and the selection tests with the JUnit
 * launcher, and prints the summary with every failure. Run it with -Dpromptgrad.requireCuda=true so nothing is
 * skipped; a skipped or failed test makes it end with an exception (exit status 1). A tool, not a test.
 */
public final class DeviceCheck {

    private DeviceCheck() {
    }

    public static void main(String[] args) {
        System.out.println("CUDA probe: " + CudaAvailability.probe().describe());
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectClass(CudaAvailabilityTest.class), selectClass(BackendsCudaTest.class),
                        selectClass(CudaBackendContractTest.class), selectClass(CudaBackendTest.class),
                        selectClass(Gpt2GoldenTest.class))
                .build();
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
        if (bad > 0 || summary.getTestsSucceededCount() == 0) {
            throw new IllegalStateException("device check: " + summary.getTotalFailureCount() + " failed, "
                    + (summary.getTestsSkippedCount() + summary.getContainersSkippedCount()) + " skipped, "
                    + summary.getTestsAbortedCount() + " aborted of " + summary.getTestsFoundCount() + " tests");
        }
        System.out.println("device check: all " + summary.getTestsSucceededCount() + " tests passed");
    }
}
