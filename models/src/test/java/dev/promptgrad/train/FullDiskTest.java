package dev.promptgrad.train;

import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.cli.Main;
import dev.promptgrad.io.DiskFullException;
import dev.promptgrad.prompt.PeftAdapter;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A full disk during training: the run fails with one line naming the file it could not write and saying that
 * the previous checkpoint is intact, nothing in the folder changes, and once there is room {@code --resume}
 * ends with the same bytes as a run that never failed. The first test fills a real 1 MiB tmpfs mounted for it
 * (this needs {@code mount}, i.e. root or CAP_SYS_ADMIN, and is skipped with the reason where that is not
 * permitted); the second simulates ENOSPC at the checkpoint's write seam, so the messages and the staging are
 * checked everywhere, but not the file system.
 */
class FullDiskTest {
    private static final Path MODEL = Path.of("src/test/resources/fixtures/gpt2-tiny");
    private static final int PAGE = 4096;
    private static final List<String> COMPARED = List.of(PeftAdapter.WEIGHTS_FILE, PeftAdapter.CONFIG_FILE,
            TrainingState.FILE);

    @TempDir
    Path folder;

    @Test
    void onARealFullTmpfsTheRunFailsInOneLineAndItsCheckpointResumes() throws Exception {
        Path data = tokenIdData();
        Path whole = folder.resolve("whole");
        Cli reference = cli(train(data, whole, 8));
        assertEquals(0, reference.code(), reference.err());

        Path disk = Files.createDirectories(folder.resolve("tmpfs"));
        String refused = mountTmpfs(disk, "1m");
        Assumptions.assumeTrue(refused == null, () -> "no real full disk: mounting a tmpfs failed ("
                + refused + "); withENOSPCSimulatedAtTheWriteSeamNothingIsReplaced covers the messages and staging");
        try {
            Path run = disk.resolve("run");
            Cli first = cli(train(data, run, 4));
            assertEquals(0, first.code(), first.err());
            Map<String, byte[]> before = contents(run);

            // room for the new metrics and loss curves only, so the save stops at a later file
            long room = 0;
            for (String file : List.of(MetricsLog.FILE, LossCurve.PNG_FILE, LossCurve.SVG_FILE)) {
                room += pages(Files.size(run.resolve(file)));
            }
            Path filler = fill(disk, room);
            Cli full = cli("train", "--resume", run.toString(), "--steps", "8", "--device", "reference");
            assertEquals(1, full.code(), full.err());
            String where = Pattern.quote(run.toString());
            Matcher line = Pattern.compile("error: no space left on device while writing " + where + "/(\\S+);"
                    + " nothing in " + where + " was replaced, so its previous checkpoint is intact: free some space,"
                    + " then continue with promptgrad train --resume " + where + "\n").matcher(full.err());
            assertTrue(line.matches(), full.err());
            assertNotEquals(MetricsLog.FILE, line.group(1), "the metrics and curves fit, so a later file failed");
            assertUnchanged(before, run);
            assertTrue(Checkpoint.markerMatchesState(run));

            Files.delete(filler);
            Cli resumed = cli("train", "--resume", run.toString(), "--steps", "8", "--device", "reference");
            assertEquals(0, resumed.code(), resumed.err());
            for (String file : COMPARED) {
                assertArrayEquals(Files.readAllBytes(whole.resolve(file)), Files.readAllBytes(run.resolve(file)), file);
            }
        } finally {
            unmount(disk);
        }
    }

    @Test
    void withENOSPCSimulatedAtTheWriteSeamNothingIsReplaced() throws IOException {
        TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAMW).build();
        TrainingData data = TinyRuns.data();
        Path whole = folder.resolve("whole"), run = folder.resolve("run");
        TinyRuns.run(config, data, whole);

        // saves at 0, 4, 8 and 10, seven files each; the weights of step 8's save (its fifth file) hit a full disk
        int[] staged = {0};
        List<Map<String, byte[]>> beforeStep8 = new ArrayList<>();
        TinyRuns.Outcome failed = TinyRuns.run(ReferenceBackend::new, config, data, run, null, 0,
                new Checkpoint.FileObserver() {
                    @Override
                    public void written(Path file) {
                    }

                    @Override
                    public void staging(Path file) throws IOException {
                        if (++staged[0] == 14 + 1) beforeStep8.add(contents(run));
                        if (staged[0] == 14 + 5) {
                            throw new DiskFullException(file, new IOException("No space left on device (simulated)"));
                        }
                    }
                });
        assertTrue(failed.failure() instanceof UncheckedIOException, String.valueOf(failed.failure()));
        assertEquals("no space left on device while writing " + run.resolve(PeftAdapter.WEIGHTS_FILE).toAbsolutePath()
                + "; nothing in " + run + " was replaced, so its previous checkpoint is intact: free some space, then"
                + " continue with promptgrad train --resume " + run, failed.failure().getMessage());
        assertEquals(1, beforeStep8.size());
        assertUnchanged(beforeStep8.get(0), run);
        assertEquals(4, TrainingState.read(run.resolve(TrainingState.FILE), config).step());

        TinyRuns.Outcome resumed = TinyRuns.run(ReferenceBackend::new, config, data, run, run, 0,
                Checkpoint.FileObserver.NONE);
        assertNull(resumed.failure());
        assertEquals(10, resumed.result().steps());
        for (String file : COMPARED) {
            assertArrayEquals(Files.readAllBytes(whole.resolve(file)), Files.readAllBytes(run.resolve(file)), file);
        }
    }

    @Test
    void theFirstSaveOfANewRunOnAFullDiskSaysThereIsNoCheckpointYet() throws IOException {
        TrainingConfig config = TinyRuns.config(TrainingConfig.OptimizerKind.ADAMW).build();
        Path run = folder.resolve("run");
        TinyRuns.Outcome failed = TinyRuns.run(ReferenceBackend::new, config, TinyRuns.data(), run, null, 0,
                new Checkpoint.FileObserver() {
                    @Override
                    public void written(Path file) {
                    }

                    @Override
                    public void staging(Path file) throws IOException {
                        if (file.endsWith(TrainingState.FILE)) {
                            throw new DiskFullException(file, new IOException("No space left on device (simulated)"));
                        }
                    }
                });
        assertEquals("no space left on device while writing " + run.resolve(TrainingState.FILE).toAbsolutePath()
                + "; nothing in " + run + " was replaced, so it holds no checkpoint yet",
                failed.failure().getMessage());
        assertEquals(List.of(Checkpoint.BEST), contents(run).keySet().stream().map(name -> name.split("/")[0])
                .distinct().toList(), "only the starting prompt's best/ was written");
    }

    /** {@code promptgrad train} of {@code steps} steps on gpt2-tiny, saving every 2, on the reference device. */
    private static String[] train(Path data, Path out, int steps) {
        return new String[] {"train", "--model", MODEL.toString(), "--data", data.toString(), "--out", out.toString(),
                "--virtual-tokens", "4", "--batch", "2", "--steps", String.valueOf(steps), "--save-every", "2",
                "--seed", "5", "--device", "reference"};
    }

    private Path tokenIdData() throws IOException {
        Random random = new Random(17);
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int[] ids = new int[4 + random.nextInt(8)];
            for (int t = 0; t < ids.length; t++) ids[t] = 1 + random.nextInt(60);
            int[] labels = ids.clone();
            Arrays.fill(labels, 0, ids.length / 2, -100);
            lines.add("{\"input_ids\": " + Arrays.toString(ids) + ", \"labels\": " + Arrays.toString(labels) + "}");
        }
        return Files.write(folder.resolve("train.jsonl"), lines);
    }

    /** Mounts a tmpfs of {@code size} on {@code at}; null if it worked, else why not. */
    private static String mountTmpfs(Path at, String size) {
        try {
            Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", at.toString())
                    .redirectErrorStream(true).start();
            String output = new String(mount.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!mount.waitFor(30, TimeUnit.SECONDS)) {
                mount.destroyForcibly();
                return "mount did not finish in 30 s";
            }
            return mount.exitValue() == 0 ? null : "mount exited with " + mount.exitValue() + ": " + output;
        } catch (IOException e) {
            return "cannot run mount: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /**
     * Unmounts {@code at}. Reading a safetensors file maps it, and a mapping lives until the garbage collector
     * frees its buffer, so a busy tmpfs is retried after a collection, and detached lazily as a last resort.
     */
    private static void unmount(Path at) throws IOException, InterruptedException {
        String output = "";
        for (int attempt = 0; attempt < 5; attempt++) {
            Process umount = new ProcessBuilder("umount", at.toString()).redirectErrorStream(true).start();
            output = new String(umount.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (umount.waitFor(30, TimeUnit.SECONDS) && umount.exitValue() == 0) return;
            System.gc();
            Thread.sleep(100);
        }
        Process lazy = new ProcessBuilder("umount", "-l", at.toString()).redirectErrorStream(true).start();
        String lazyOutput = new String(lazy.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(lazy.waitFor(30, TimeUnit.SECONDS) && lazy.exitValue() == 0,
                "umount " + at + ": " + output + "; umount -l: " + lazyOutput);
    }

    /** Fills the file system of {@code disk} with one file until only {@code room} bytes (whole pages) are left. */
    private static Path fill(Path disk, long room) throws IOException {
        Path filler = disk.resolve("filler");
        try (FileChannel out = FileChannel.open(filler, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer chunk = ByteBuffer.allocate(PAGE);
            try {
                while (true) {
                    chunk.clear();
                    while (chunk.hasRemaining()) out.write(chunk);
                }
            } catch (IOException full) {
                assertTrue(String.valueOf(full.getMessage()).contains("No space left on device"),
                        "the filler must stop at a full disk: " + full);
            }
            out.truncate(out.size() / PAGE * PAGE - room);
        }
        return filler;
    }

    private static long pages(long bytes) {
        return (bytes + PAGE - 1) / PAGE * PAGE;
    }

    /** Every file under {@code root} (relative name to bytes), temporaries included. */
    private static Map<String, byte[]> contents(Path root) {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> all = Files.walk(root)) {
            for (Path file : (Iterable<Path>) all.filter(Files::isRegularFile)::iterator) {
                files.put(root.relativize(file).toString(), Files.readAllBytes(file));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    private static void assertUnchanged(Map<String, byte[]> before, Path root) {
        Map<String, byte[]> after = contents(root);
        assertEquals(before.keySet(), after.keySet(), "the same files, and no temporary left");
        for (String name : before.keySet()) assertArrayEquals(before.get(name), after.get(name), name);
    }

    private record Cli(int code, String out, String err) {
    }

    private static Cli cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            code = Main.run(args, o, e);
        }
        return new Cli(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }
}
