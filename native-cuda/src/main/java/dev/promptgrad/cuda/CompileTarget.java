package dev.promptgrad.cuda;

import java.util.Arrays;
import java.util.List;

/**
 * What NVRTC compiles the kernels into for one GPU: real code (a cubin) for the device's own sm_XY when this
 * NVRTC knows that architecture, otherwise PTX for the newest architecture it knows, which the driver compiles
 * forward when the module loads. It also holds the NVRTC options; it does not run NVRTC.
 *
 * @param architecture major·10 + minor, e.g. 90 for sm_90
 * @param cubin        true for sm_XY machine code, false for compute_XY PTX
 */
record CompileTarget(int architecture, boolean cubin) {

    /** The target for a device of compute capability {@code major.minor}, given NVRTC's supported list. */
    static CompileTarget forDevice(int major, int minor, int[] supported) {
        if (major < 1 || minor < 0 || minor > 9) {
            throw new IllegalArgumentException("compute capability " + major + "." + minor + " is not a real one");
        }
        if (supported.length == 0) throw new IllegalArgumentException("NVRTC reported no supported architecture");
        int device = major * 10 + minor;
        int[] sorted = supported.clone();
        Arrays.sort(sorted);
        if (Arrays.binarySearch(sorted, device) >= 0) return new CompileTarget(device, true);
        int newest = sorted[sorted.length - 1];
        if (device > newest) return new CompileTarget(newest, false);
        throw new IllegalStateException("this NVRTC compiles for sm_" + sorted[0] + " to sm_" + newest + ", not for"
                + " this GPU's sm_" + device + "; use a CUDA release that still supports compute capability "
                + major + "." + minor);
    }

    /** {@code sm_XY} or {@code compute_XY}. */
    String name() {
        return (cubin ? "sm_" : "compute_") + architecture;
    }

    /** NVRTC's options: the architecture and the C++ dialect the sources are written in. */
    List<String> options() {
        return List.of("--gpu-architecture=" + name(), "--std=c++17");
    }
}
