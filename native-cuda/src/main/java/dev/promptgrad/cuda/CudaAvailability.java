package dev.promptgrad.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.javacpp.Loader;

import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether this machine can run the CUDA backend and, when it cannot, why, in one line: no NVIDIA driver, missing
 * CUDA 13 libraries, no device, or a device this CUDA cannot compile for. The probe loads bytedeco's natives (the
 * one place where a failed native load is caught, and turned into that line) and asks the driver about device 0.
 * It runs once per process and never throws or prints. It opens nothing that needs closing.
 */
public final class CudaAvailability {

    /** The driver release CUDA 13 needs on Linux, for messages. */
    static final String DRIVER_ADVICE = "CUDA 13 needs NVIDIA driver 580 or newer";

    private static final Pattern MISSING_LIBRARY = Pattern.compile("(lib[\\w.+-]+?\\.so(?:\\.\\d+)*): cannot open shared object file");
    private static final Pattern MISSING_JNI = Pattern.compile("no (jni\\w+) in java\\.library\\.path");

    private static Report probed;

    private CudaAvailability() {
    }

    /**
     * What the probe found. {@code reason} is null when the backend can open; then the other fields describe
     * device 0. Versions are CUDA's integers (13010 for 13.1).
     */
    public record Report(String reason, int devices, String deviceName, int major, int minor, int driverVersion,
                         int runtimeVersion, String nvrtcVersion) {
        public boolean usable() {
            return reason == null;
        }

        /** One line: the device and versions, or the reason it is unusable. */
        public String describe() {
            if (!usable()) return "cuda unusable: " + reason;
            return deviceName + " (compute capability " + major + "." + minor + ", " + devices + " device"
                    + (devices == 1 ? "" : "s") + "), driver CUDA " + version(driverVersion) + ", runtime "
                    + version(runtimeVersion) + ", NVRTC " + nvrtcVersion;
        }
    }

    /** The probe's result, computed on first call. */
    public static synchronized Report probe() {
        if (probed == null) probed = run();
        return probed;
    }

    /** Null when the CUDA backend can open here, otherwise the one-line reason. */
    public static String unavailableReason() {
        return probe().reason();
    }

    private static Report run() {
        String loadFailure = loadNatives();
        if (loadFailure != null) return unusable(loadFailure);
        int[] driver = new int[1], runtime = new int[1], count = new int[1];
        if (cudart.cudaDriverGetVersion(driver) != cudart.cudaSuccess
                || cudart.cudaRuntimeGetVersion(runtime) != cudart.cudaSuccess) {
            cudart.cudaGetLastError();
            return unusable("the CUDA runtime could not report the driver's version; check the driver with nvidia-smi");
        }
        int status = cudart.cudaGetDeviceCount(count);
        if (status != cudart.cudaSuccess) {
            cudart.cudaGetLastError();
            return unusable(deviceCountFailure(status, cudart.cudaGetErrorName(status).getString(), driver[0], runtime[0]));
        }
        if (count[0] == 0) return unusable("no CUDA device: the driver sees no GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES");
        int initStatus = cudart.cuInit(0);
        if (initStatus != cudart.CUDA_SUCCESS) return unusable("the CUDA driver did not initialise (cuInit returned " + initStatus + ")");
        int[] major = new int[1], minor = new int[1], device = new int[1];
        if (cudart.cudaDeviceGetAttribute(major, cudart.cudaDevAttrComputeCapabilityMajor, 0) != cudart.cudaSuccess
                || cudart.cudaDeviceGetAttribute(minor, cudart.cudaDevAttrComputeCapabilityMinor, 0) != cudart.cudaSuccess) {
            cudart.cudaGetLastError();
            return unusable("CUDA device 0 did not report its compute capability; check it with nvidia-smi");
        }
        byte[] name = new byte[256];
        String deviceName = "CUDA device 0";
        if (cudart.cuDeviceGet(device, 0) == cudart.CUDA_SUCCESS && cudart.cuDeviceGetName(name, name.length, device[0]) == cudart.CUDA_SUCCESS) {
            deviceName = cString(name);
        }
        String nvrtcVersion;
        try {
            nvrtcVersion = NvrtcCompiler.version();
            CompileTarget.forDevice(major[0], minor[0], NvrtcCompiler.supportedArchitectures());
        } catch (CudaException | IllegalStateException | IllegalArgumentException e) {
            return unusable(deviceName + " cannot be used: " + e.getMessage());
        }
        return new Report(null, count[0], deviceName, major[0], minor[0], driver[0], runtime[0], nvrtcVersion);
    }

    /**
     * Loads the runtime (with the driver API), cuBLAS and NVRTC presets; null when all load, otherwise the reason.
     * A missing shared library surfaces as a LinkageError from the presets' static initialisers: it is caught
     * here and nowhere else.
     */
    private static String loadNatives() {
        for (Class<?> preset : new Class<?>[]{cudart.class, cublas.class, nvrtc.class}) {
            try {
                Loader.load(preset);
            } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
                return reasonForLoadFailure(e, Loader.getPlatform());
            }
        }
        return null;
    }

    /** One line naming what is missing, from the text of a native load failure and all its causes. */
    static String reasonForLoadFailure(Throwable failure, String platform) {
        StringBuilder text = new StringBuilder();
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            text.append(t).append('\n');
        }
        Matcher library = MISSING_LIBRARY.matcher(text);
        if (library.find()) {
            String name = library.group(1);
            if (name.startsWith("libcuda.so")) {
                return "no NVIDIA driver: " + name + " was not found; install the NVIDIA driver (" + DRIVER_ADVICE + ")";
            }
            if (!name.startsWith("libjni")) {
                return "the CUDA 13 libraries are missing: " + name + " was not found; install the CUDA 13 runtime,"
                        + " cuBLAS and NVRTC (e.g. the cuda-toolkit-13 packages, with their lib64 on LD_LIBRARY_PATH),"
                        + " or add org.bytedeco:cuda-platform-redist to the class path";
            }
        }
        if (text.indexOf("version `") >= 0 || text.indexOf("undefined symbol") >= 0) {
            return "the CUDA libraries found do not match CUDA 13.1's (" + firstLine(text) + "); install CUDA 13,"
                    + " or add org.bytedeco:cuda-platform-redist to the class path";
        }
        Matcher jni = MISSING_JNI.matcher(text);
        if (jni.find()) {
            return "the org.bytedeco:cuda natives for " + platform + " are not on the class path (no " + jni.group(1)
                    + "); add org.bytedeco:cuda:13.1-9.19-1.5.13:" + platform;
        }
        if (failure instanceof NoClassDefFoundError && text.indexOf("org/bytedeco/cuda") >= 0) {
            return "the org.bytedeco:cuda jar is not on the class path; add org.bytedeco:cuda:13.1-9.19-1.5.13";
        }
        return "the CUDA libraries could not be loaded: " + firstLine(text);
    }

    /** One line for a failed cudaGetDeviceCount. */
    static String deviceCountFailure(int status, String name, int driverVersion, int runtimeVersion) {
        if (status == cudart.cudaErrorNoDevice) {
            return "no CUDA device: the driver sees no GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES";
        }
        if (status == cudart.cudaErrorInsufficientDriver || status == cudart.cudaErrorCallRequiresNewerDriver) {
            return "the NVIDIA driver supports CUDA " + version(driverVersion) + " but the runtime is CUDA "
                    + version(runtimeVersion) + "; update the driver (" + DRIVER_ADVICE + ")";
        }
        return "cudaGetDeviceCount failed with " + name + " (" + status + "); check the NVIDIA driver with nvidia-smi";
    }

    /** 13010 → "13.1". */
    static String version(int cudaVersion) {
        return cudaVersion / 1000 + "." + cudaVersion % 1000 / 10;
    }

    private static String firstLine(CharSequence text) {
        String s = text.toString();
        int end = s.indexOf('\n');
        return (end < 0 ? s : s.substring(0, end)).strip();
    }

    private static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) end++;
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    private static Report unusable(String reason) {
        return new Report(reason, 0, null, 0, 0, 0, 0, null);
    }
}
