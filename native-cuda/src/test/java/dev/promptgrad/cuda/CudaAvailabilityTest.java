package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one-line reasons for an unusable CUDA, from the native load failures JavaCPP reports (copied from real runs)
 * and from device queries; and the real probe on this machine, which must answer without throwing.
 */
class CudaAvailabilityTest {

    private static UnsatisfiedLinkError loadFailure(String dependency) {
        UnsatisfiedLinkError outer = new UnsatisfiedLinkError("no jnicudart in java.library.path: /usr/java/packages/lib:/usr/lib");
        outer.initCause(new UnsatisfiedLinkError("/root/.javacpp/cache/cuda-13.1-9.19-1.5.13-linux-x86_64.jar/org/bytedeco/"
                + "cuda/linux-x86_64/libjnicudart.so: " + dependency + ": cannot open shared object file: No such file or directory"));
        return outer;
    }

    @Test
    void aMissingLibcudaMeansNoDriver() {
        assertEquals("no NVIDIA driver: libcuda.so.1 was not found; install the NVIDIA driver (CUDA 13 needs NVIDIA"
                + " driver 580 or newer)", CudaAvailability.reasonForLoadFailure(loadFailure("libcuda.so.1"), "linux-x86_64"));
    }

    @Test
    void aMissingToolkitLibraryIsNamedWithBothWaysToGetIt() {
        for (String library : new String[]{"libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libnvrtc.so.13"}) {
            String reason = CudaAvailability.reasonForLoadFailure(loadFailure(library), "linux-x86_64");
            assertTrue(reason.startsWith("the CUDA 13 libraries are missing: " + library + " was not found; install"), reason);
            assertTrue(reason.contains("org.bytedeco:cuda-platform-redist"), reason);
        }
    }

    @Test
    void otherLoadFailuresSayWhatToAdd() {
        String noNatives = CudaAvailability.reasonForLoadFailure(
                new UnsatisfiedLinkError("no jnicudart in java.library.path: /usr/lib"), "linux-arm64");
        assertEquals("the org.bytedeco:cuda natives for linux-arm64 are not on the class path (no jnicudart); add"
                + " org.bytedeco:cuda:13.1-9.19-1.5.13:linux-arm64", noNatives);
        String mismatch = CudaAvailability.reasonForLoadFailure(new UnsatisfiedLinkError(
                "/x/libjnicudart.so: /usr/lib/libcudart.so.13: version `libcudart.so.13.1' not found"), "linux-x86_64");
        assertTrue(mismatch.startsWith("the CUDA libraries found do not match CUDA 13.1's"), mismatch);
        String noJar = CudaAvailability.reasonForLoadFailure(new NoClassDefFoundError("org/bytedeco/cuda/global/cudart"),
                "linux-x86_64");
        assertEquals("the org.bytedeco:cuda jar is not on the class path; add org.bytedeco:cuda:13.1-9.19-1.5.13", noJar);
    }

    @Test
    void deviceQueriesTurnIntoReasons() {
        assertEquals("no CUDA device: the driver sees no GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES",
                CudaAvailability.deviceCountFailure(100, "cudaErrorNoDevice", 13000, 13010));
        assertEquals("the NVIDIA driver supports CUDA 12.8 but the runtime is CUDA 13.1; update the driver (CUDA 13"
                + " needs NVIDIA driver 580 or newer)", CudaAvailability.deviceCountFailure(35, "cudaErrorInsufficientDriver", 12080, 13010));
        assertEquals("13.0", CudaAvailability.version(13000));
    }

    @Test
    void theRealProbeAnswersInOneLineWithoutThrowing() {
        CudaAvailability.Report report = CudaAvailability.probe();
        assertNotNull(report);
        String line = report.describe();
        assertFalse(line.contains("\n") || line.contains("Exception") || line.contains("\tat "), line);
        if (report.usable()) {
            assertTrue(report.devices() > 0 && report.major() >= 7, line);
        } else {
            assertTrue(line.startsWith("cuda unusable: ") && line.length() > 20, line);
        }
    }
}
