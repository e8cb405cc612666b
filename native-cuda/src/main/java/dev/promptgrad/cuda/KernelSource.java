package dev.promptgrad.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The {@code .cu} files shipped as resources under {@code dev/promptgrad/cuda/}, one per section of the Backend
 * SPI, plus the headers they include. NVRTC compiles each file into one module at first use; CI compiles them all
 * with nvcc. This enum names and reads the files; {@link Kernel} lists what is inside them.
 */
enum KernelSource {
    ELEMENTWISE("elementwise.cu"),
    NORM("norm.cu"),
    ATTENTION("attention.cu"),
    LOSS("loss.cu");

    /** Where the sources live on the class path. */
    static final String RESOURCE_DIRECTORY = "/dev/promptgrad/cuda/";

    /** Headers a source may {@code #include "…"}; NVRTC receives them by name, nvcc finds them beside the sources. */
    static final List<String> HEADERS = List.of("block_reduce.cuh");

    final String file;

    KernelSource(String file) {
        this.file = file;
    }

    /** The source text. */
    String read() {
        return readResource(file);
    }

    /** A resource of the source directory as text; a missing one means a broken jar, and the error says so. */
    static String readResource(String file) {
        String path = RESOURCE_DIRECTORY + file;
        try (InputStream in = KernelSource.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + path + " is missing from the class path; the"
                        + " promptgrad-native-cuda jar is incomplete, rebuild it");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read kernel source " + path, e);
        }
    }
}
