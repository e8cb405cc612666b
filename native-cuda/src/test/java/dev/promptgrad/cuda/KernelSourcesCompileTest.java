package dev.promptgrad.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * Compiles every {@code .cu} resource with nvcc to PTX for sm_80 and sm_90, without a GPU, so a kernel that does not
 * compile fails CI rather than a user's first run; then checks each PTX {@code .entry} against {@link Kernel}'s
 * symbols and parameter types, and that the sources use only what NVRTC offers (no system headers). nvcc is
 * looked for on PATH, in $CUDA_HOME/bin and in /usr/local/cuda*&#47;bin. Without it the test is skipped with that
 * reason on a developer's machine and fails in CI (the environment variable CI set), unless PROMPTGRAD_SKIP_NVCC=1.
 * NVRTC itself is exercised on a GPU machine (the contract suite) and emulated by g++ elsewhere.
 */
class KernelSourcesCompileTest {

    static final List<String> ARCHITECTURES = List.of("sm_80", "sm_90");

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+(\\w+)\\s*\\(([^)]*)\\)", Pattern.DOTALL);
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+(\\.\\w+)");
    private static final Pattern INCLUDE = Pattern.compile("^\\s*#\\s*include\\s*(.*)$", Pattern.MULTILINE);

    private static Path sources;   // the directory holding the .cu and .cuh resources

    @BeforeAll
    static void findSources() throws URISyntaxException {
        URL first = KernelSourcesCompileTest.class.getResource(KernelSource.RESOURCE_DIRECTORY + KernelSource.ELEMENTWISE.file);
        assertTrue(first != null && first.getProtocol().equals("file"),
                "the kernel sources must be a directory on the test class path, found " + first);
        sources = Paths.get(first.toURI()).getParent();
    }

    @Test
    void everySourceAndHeaderIsListedAndOnlyListedOnesExist() throws IOException {
        assertEquals(Arrays.stream(KernelSource.values()).map(s -> s.file).collect(Collectors.toCollection(TreeSet::new)),
                filesEndingWith(".cu"), "the .cu resources and KernelSource's entries");
        assertEquals(new TreeSet<>(KernelSource.HEADERS), filesEndingWith(".cuh"), "the .cuh resources and KernelSource.HEADERS");
    }

    @Test
    void sourcesIncludeOnlyTheListedHeaders() throws IOException {
        for (String file : filesEndingWith(".cu", ".cuh")) {
            Matcher include = INCLUDE.matcher(Files.readString(sources.resolve(file)));
            while (include.find()) {
                String target = include.group(1).strip();
                assertTrue(target.startsWith("\"") && KernelSource.HEADERS.contains(target.replace("\"", "")),
                        file + " includes " + target + ", but NVRTC has no system headers: include only "
                                + KernelSource.HEADERS + " by quoted name");
            }
        }
    }

    @Test
    void nvccCompilesEverySourceForSm80AndSm90AndItsEntriesMatchKernel(@TempDir Path out) throws Exception {
        Path nvcc = findNvcc().orElse(null);
        if (nvcc == null) {
            if ("1".equals(System.getenv("PROMPTGRAD_SKIP_NVCC"))) {
                abort("PROMPTGRAD_SKIP_NVCC=1: the .cu kernels were not compiled with nvcc");
            }
            String missing = "nvcc was not found on PATH, in $CUDA_HOME/bin or in /usr/local/cuda*/bin: install the"
                    + " CUDA 13 toolkit's compiler (e.g. the cuda-nvcc-13-0 package) to check that the kernels compile";
            String ci = System.getenv("CI");
            if (ci == null || ci.isEmpty()) abort(missing + " (CI, where CI is set, fails instead)");
            fail(missing + ", which CI must; or set PROMPTGRAD_SKIP_NVCC=1 to skip this check");
        }
        for (KernelSource source : KernelSource.values()) {
            for (String arch : ARCHITECTURES) {
                Path ptx = out.resolve(source.file + "." + arch + ".ptx");
                List<String> command = List.of(nvcc.toString(), "--ptx", "-arch=" + arch, "-std=c++17",
                        "-I", sources.toString(), "-o", ptx.toString(), sources.resolve(source.file).toString());
                Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
                String log = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertTrue(process.waitFor(5, TimeUnit.MINUTES), "nvcc timed out on " + source.file);
                if (process.exitValue() != 0) {
                    fail("nvcc could not compile " + source.file + " for " + arch + " (exit " + process.exitValue()
                            + "):\n" + String.join(" ", command) + "\n" + log);
                }
                checkEntries(source, arch, Files.readString(ptx));
            }
        }
    }

    /** The PTX's kernels are exactly the source's {@link Kernel}s, with the parameter types Kernel declares. */
    private static void checkEntries(KernelSource source, String arch, String ptx) {
        Map<String, List<String>> entries = entries(ptx);
        Map<String, List<String>> declared = new LinkedHashMap<>();
        for (Kernel kernel : Kernel.values()) {
            if (kernel.source == source) {
                declared.put(kernel.symbol, kernel.params.stream().map(p -> p.ptxType).collect(Collectors.toList()));
            }
        }
        assertEquals(new TreeSet<>(declared.keySet()), new TreeSet<>(entries.keySet()),
                source.file + " for " + arch + ": the extern \"C\" kernels in PTX and the Kernel enum's symbols");
        for (Map.Entry<String, List<String>> e : declared.entrySet()) {
            assertEquals(e.getValue(), entries.get(e.getKey()), source.file + " for " + arch + ": parameter types of "
                    + e.getKey() + " in PTX (C signature) and in Kernel (Java launch)");
        }
    }

    /** Kernel name → PTX parameter types, in order. */
    static Map<String, List<String>> entries(String ptx) {
        Map<String, List<String>> entries = new LinkedHashMap<>();
        Matcher entry = ENTRY.matcher(ptx);
        while (entry.find()) {
            List<String> types = new ArrayList<>();
            Matcher param = PARAM.matcher(entry.group(2));
            while (param.find()) types.add(param.group(1));
            entries.put(entry.group(1), types);
        }
        return entries;
    }

    /** nvcc on PATH, in $CUDA_HOME/bin or $CUDA_PATH/bin, or in /usr/local/cuda*&#47;bin (newest name first). */
    static Optional<Path> findNvcc() throws IOException {
        List<Path> candidates = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(java.io.File.pathSeparator)) {
                if (!dir.isEmpty()) candidates.add(Paths.get(dir, "nvcc"));
            }
        }
        for (String variable : new String[]{"CUDA_HOME", "CUDA_PATH"}) {
            String home = System.getenv(variable);
            if (home != null && !home.isEmpty()) candidates.add(Paths.get(home, "bin", "nvcc"));
        }
        Path local = Paths.get("/usr/local");
        if (Files.isDirectory(local)) {
            try (Stream<Path> dirs = Files.list(local)) {
                dirs.filter(d -> d.getFileName().toString().startsWith("cuda"))
                        .sorted(Comparator.comparing((Path d) -> d.getFileName().toString()).reversed())
                        .forEach(d -> candidates.add(d.resolve("bin").resolve("nvcc")));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }

    private static TreeSet<String> filesEndingWith(String... suffixes) throws IOException {
        try (Stream<Path> files = Files.list(sources)) {
            return files.map(f -> f.getFileName().toString())
                    .filter(name -> Arrays.stream(suffixes).anyMatch(name::endsWith))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }
}
