package dev.promptgrad.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * NVIDIA's own NVRTC compiles every kernel source through {@link NvrtcCompiler}, exactly as the backend does at first
 * use: a cubin for sm_80 and for sm_90, and PTX holding every {@link Kernel} symbol of the source. NVRTC needs no GPU,
 * so this runs wherever the real libnvrtc.so.13 is what JavaCPP loads: on the device machine (DeviceCheck), or here
 * with the library of NVIDIA's nvidia-cuda-nvrtc wheel (native-cuda/README.md). Enabled by -Dpromptgrad.realNvrtc=true;
 * the emulator's stand-in (g++ behind NVRTC's API) would prove nothing here, so the default build skips it.
 */
@EnabledIfSystemProperty(named = "promptgrad.realNvrtc", matches = "true")
class RealNvrtcTest {

    private static final byte[] ELF_MAGIC = {0x7f, 'E', 'L', 'F'};

    @Test
    void isNvidiasNvrtc13KnowingAmpereAndHopper() {
        assertTrue(NvrtcCompiler.version().startsWith("13."), NvrtcCompiler.version());
        int[] supported = NvrtcCompiler.supportedArchitectures();
        assertTrue(Arrays.stream(supported).anyMatch(a -> a == 80), Arrays.toString(supported));
        assertTrue(Arrays.stream(supported).anyMatch(a -> a == 90), Arrays.toString(supported));
        assertEquals(new CompileTarget(90, true), CompileTarget.forDevice(9, 0, supported));
    }

    @ParameterizedTest
    @EnumSource(KernelSource.class)
    void everySourceCompilesToCubinForSm80AndSm90(KernelSource source) {
        for (int architecture : new int[]{80, 90}) {
            byte[] cubin = NvrtcCompiler.compile(source.file, source.read(), NvrtcCompiler.headers(),
                    new CompileTarget(architecture, true));
            assertArrayEquals(ELF_MAGIC, Arrays.copyOf(cubin, 4), source.file + " for sm_" + architecture);
            String symbols = new String(cubin, StandardCharsets.ISO_8859_1);
            for (Kernel kernel : Kernel.values()) {
                if (kernel.source == source) {
                    assertTrue(symbols.contains(kernel.symbol), kernel.symbol + " in " + source.file + "'s cubin");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(KernelSource.class)
    void everySourceCompilesToPtxWithEveryEntry(KernelSource source) {
        byte[] image = NvrtcCompiler.compile(source.file, source.read(), NvrtcCompiler.headers(),
                new CompileTarget(90, false));
        String ptx = new String(image, StandardCharsets.US_ASCII);
        assertTrue(ptx.contains(".target sm_90"), source.file + ": " + ptx.lines().limit(20).toList());
        for (Kernel kernel : Kernel.values()) {
            if (kernel.source == source) {
                assertTrue(ptx.contains(".entry " + kernel.symbol + "("), kernel.symbol + " in " + source.file);
            }
        }
    }

    @Test
    void aBrokenSourceThrowsWithNvrtcsLog() {
        String broken = "extern \"C\" __global__ void broken(float* x) {\n    x[0] = undeclared;\n}\n";
        KernelCompilationException e = assertThrows(KernelCompilationException.class, () ->
                NvrtcCompiler.compile("broken.cu", broken, NvrtcCompiler.headers(), new CompileTarget(90, true)));
        assertTrue(e.log().contains("broken.cu(2)"), e.log());
        assertTrue(e.log().contains("undeclared"), e.log());
        assertTrue(e.getMessage().contains("/dev/promptgrad/cuda/broken.cu for sm_90"), e.getMessage());
    }
}
