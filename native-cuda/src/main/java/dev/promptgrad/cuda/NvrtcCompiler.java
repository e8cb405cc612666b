package dev.promptgrad.cuda;

import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Compiles kernel sources with NVRTC for a {@link CompileTarget} and keeps the images (cubin or PTX) for the
 * life of the process, so each source is compiled once however many backends open. A source NVRTC rejects throws
 * {@link KernelCompilationException} carrying the compiler log. Loading images into a context is
 * {@link KernelModules}' job, not this class's.
 */
final class NvrtcCompiler {

    private static final Map<String, byte[]> IMAGES = new ConcurrentHashMap<>();   // "file@target" → image

    private NvrtcCompiler() {
    }

    /** The compiled image of {@code source} for {@code target}, compiling it on first use. */
    static byte[] image(KernelSource source, CompileTarget target) {
        return IMAGES.computeIfAbsent(source.file + "@" + target.name(),
                key -> compile(source.file, source.read(), headers(), target));
    }

    /** The architectures this NVRTC compiles for, as major·10 + minor (e.g. 75, 80, …, 120). */
    static int[] supportedArchitectures() {
        int[] count = new int[1];
        CudaStatus.checkNvrtc(nvrtc.nvrtcGetNumSupportedArchs(count), "nvrtcGetNumSupportedArchs");
        int[] architectures = new int[count[0]];
        if (count[0] > 0) {
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetSupportedArchs(architectures), "nvrtcGetSupportedArchs");
        }
        return architectures;
    }

    /** NVRTC's version as "major.minor". */
    static String version() {
        int[] major = new int[1], minor = new int[1];
        CudaStatus.checkNvrtc(nvrtc.nvrtcVersion(major, minor), "nvrtcVersion");
        return major[0] + "." + minor[0];
    }

    /** The headers every source may include, by include name. */
    static Map<String, String> headers() {
        Map<String, String> headers = new LinkedHashMap<>();
        for (String name : KernelSource.HEADERS) headers.put(name, KernelSource.readResource(name));
        return headers;
    }

    /** Compiles {@code text} (called {@code name} in messages) with {@code headers} for {@code target}. */
    static byte[] compile(String name, String text, Map<String, String> headers, CompileTarget target) {
        String call = "nvrtcCompileProgram(" + name + ", " + target.name() + ")";
        _nvrtcProgram program = new _nvrtcProgram();
        BytePointer source = new BytePointer(text, StandardCharsets.UTF_8);
        BytePointer sourceName = new BytePointer(name, StandardCharsets.UTF_8);
        PointerPointer<BytePointer> headerTexts = new PointerPointer<>(headers.values().toArray(new String[0]));
        PointerPointer<BytePointer> headerNames = new PointerPointer<>(headers.keySet().toArray(new String[0]));
        List<String> options = target.options();
        PointerPointer<BytePointer> optionTexts = new PointerPointer<>(options.toArray(new String[0]));
        try {
            CudaStatus.checkNvrtc(nvrtc.nvrtcCreateProgram(program, source, sourceName, headers.size(), headerTexts,
                    headerNames), "nvrtcCreateProgram(" + name + ")");
            byte[] image;
            try {
                int status = nvrtc.nvrtcCompileProgram(program, options.size(), optionTexts);
                if (status == nvrtc.NVRTC_ERROR_COMPILATION) {
                    String log = log(program, name);
                    throw new KernelCompilationException("NVRTC " + version() + " could not compile kernel source "
                            + KernelSource.RESOURCE_DIRECTORY + name + " for " + target.name() + " with options "
                            + options + "; compiler log:\n" + log, call, status, log);
                }
                CudaStatus.checkNvrtc(status, call);
                image = target.cubin() ? cubin(program, name) : ptx(program, name);
            } catch (RuntimeException e) {
                nvrtc.nvrtcDestroyProgram(program);   // the first failure is the one to report
                throw e;
            }
            CudaStatus.checkNvrtc(nvrtc.nvrtcDestroyProgram(program), "nvrtcDestroyProgram(" + name + ")");
            return image;
        } finally {
            source.deallocate();
            sourceName.deallocate();
            headerTexts.deallocate();
            headerNames.deallocate();
            optionTexts.deallocate();
        }
    }

    private static String log(_nvrtcProgram program, String name) {
        SizeTPointer size = new SizeTPointer(1);
        try {
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetProgramLogSize(program, size), "nvrtcGetProgramLogSize(" + name + ")");
            byte[] log = new byte[(int) size.get()];
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetProgramLog(program, log), "nvrtcGetProgramLog(" + name + ")");
            return new String(log, StandardCharsets.UTF_8).replace("\0", "").strip();
        } finally {
            size.deallocate();
        }
    }

    private static byte[] cubin(_nvrtcProgram program, String name) {
        SizeTPointer size = new SizeTPointer(1);
        try {
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetCUBINSize(program, size), "nvrtcGetCUBINSize(" + name + ")");
            byte[] image = new byte[(int) size.get()];
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetCUBIN(program, image), "nvrtcGetCUBIN(" + name + ")");
            return image;
        } finally {
            size.deallocate();
        }
    }

    /** PTX text including its terminating NUL, which cuModuleLoadData needs. */
    private static byte[] ptx(_nvrtcProgram program, String name) {
        SizeTPointer size = new SizeTPointer(1);
        try {
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetPTXSize(program, size), "nvrtcGetPTXSize(" + name + ")");
            byte[] image = new byte[(int) size.get()];
            CudaStatus.checkNvrtc(nvrtc.nvrtcGetPTX(program, image), "nvrtcGetPTX(" + name + ")");
            return image;
        } finally {
            size.deallocate();
        }
    }
}
