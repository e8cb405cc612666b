package dev.promptgrad.cli;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.io.AtomicFile;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.prompt.AdapterFormatException;
import dev.promptgrad.prompt.KoboldSoftPrompt;
import dev.promptgrad.prompt.NpyArray;
import dev.promptgrad.prompt.PeftAdapter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code promptgrad convert}: a soft prompt from one file format to another — a PEFT adapter folder (PROMPT_TUNING
 * or P_TUNING in, PROMPT_TUNING out), a KoboldAI {@code .zip}, or Lester et al.'s {@code .npy} [N, dim] float32.
 * The input format follows from the path (a folder, or a file's first bytes), the output's from {@code --format}
 * or the target's name. With
 * {@code --model} the prompt's width is checked against the model's hidden size. It does not run the model.
 */
@Command(name = "convert", sortOptions = false,
        description = "Convert a soft prompt between PEFT adapter folders, KoboldAI .zip files and .npy arrays.")
final class ConvertCommand implements Callable<Integer> {

    /** The formats a soft prompt can be written in, by the --format name. */
    enum Format {
        /** A PEFT adapter folder: adapter_config.json and adapter_model.safetensors. */
        PEFT,
        /** KoboldAI's soft prompt .zip: tensor.npy and meta.json. */
        KOBOLD,
        /** A bare [N, dim] float32 .npy, as Lester et al.'s prompt-tuning code saves prompts. */
        NPY;

        /** The format a path names: a .zip is KoboldAI's, a .npy an array, anything else a PEFT folder. */
        static Format of(Path path) {
            String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
            if (name.endsWith(".zip")) return KOBOLD;
            if (name.endsWith(".npy")) return NPY;
            return PEFT;
        }

        /** The format of an existing input: a folder is PEFT's; a file is told by its first bytes, else its name. */
        static Format detect(Path path) {
            if (Files.isDirectory(path)) return PEFT;
            if (Files.isRegularFile(path)) {
                byte[] start = new byte[6];
                int read;
                try (InputStream in = Files.newInputStream(path)) {
                    read = in.readNBytes(start, 0, start.length);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
                }
                if (read >= 2 && start[0] == 'P' && start[1] == 'K') return KOBOLD;
                if (read == 6 && (start[0] & 0xff) == 0x93 && start[1] == 'N' && start[2] == 'U') return NPY;
            }
            return of(path);
        }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--from", required = true, paramLabel = "FILE_OR_DIR",
            description = "The soft prompt: a PEFT adapter folder, a KoboldAI .zip or a .npy file.")
    Path from;

    @Option(names = "--to", required = true, paramLabel = "FILE_OR_DIR",
            description = "Where to write it; an existing file is replaced atomically.")
    Path to;

    @Option(names = "--format", paramLabel = "FORMAT",
            description = "The output format: peft, kobold or npy (default: from --to's name: .zip kobold, .npy npy,"
                    + " else peft).")
    Format format;

    @Option(names = "--model", paramLabel = "PATH",
            description = "The model the prompt is for: its width is checked; needed for peft output (the adapter"
                    + " config records the base model's layers and heads).")
    Path model;

    @Option(names = "--name", paramLabel = "TEXT", description = "kobold output: the prompt's name (default: --to's file name).")
    String name;

    @Option(names = "--description", paramLabel = "TEXT", description = "kobold output: its description.")
    String description;

    @Mixin
    CommonOptions common;

    /** A prompt on its way between formats. */
    private record Prompt(int rows, int width, float[] values, String name, String description) {
    }

    @Override
    public Integer call() {
        Format output = format != null ? format : Format.of(to);
        Prompt prompt = read(from);
        LanguageModel lm = null;
        try (Backend backend = model == null ? null : common.openBackend(spec.commandLine().getErr());
             ModelSource source = model == null ? null : ModelSource.open(model, null, backend)) {
            if (source != null) {
                lm = source.model();
                if (prompt.width() != lm.dim()) {
                    throw new AdapterFormatException(from + " holds prompts " + prompt.width() + " wide, but " + lm.name()
                            + " has hidden size " + lm.dim() + "; the prompt was made for another model");
                }
            }
            write(prompt, output, lm);
        }
        spec.commandLine().getOut().println("wrote a soft prompt of " + prompt.rows() + " × " + prompt.width() + " to "
                + to + " (" + output.name().toLowerCase(Locale.ROOT) + ")");
        spec.commandLine().getOut().flush();
        return Main.OK;
    }

    private static Prompt read(Path path) {
        return switch (Format.detect(path)) {
            case PEFT -> {
                PeftAdapter adapter = PeftAdapter.read(path);
                yield new Prompt(adapter.virtualTokens(), adapter.width(), adapter.embeddings(), null, null);
            }
            case KOBOLD -> {
                KoboldSoftPrompt kobold = KoboldSoftPrompt.read(path);
                yield new Prompt(kobold.rows(), kobold.width(), kobold.values(), kobold.name(), kobold.description());
            }
            case NPY -> {
                NpyArray array = NpyArray.read(path, KoboldSoftPrompt.MAX_TENSOR_BYTES);
                int[] shape = array.shape();
                if (shape.length != 2 || shape[0] < 1 || shape[1] < 1) {
                    throw new AdapterFormatException(path + " has shape " + Arrays.toString(shape)
                            + "; a soft prompt is [virtual tokens, hidden size]");
                }
                float[] values = array.values();
                for (int i = 0; i < values.length; i++) {
                    if (!Float.isFinite(values[i])) {
                        throw new AdapterFormatException(path + ": element [" + i / shape[1] + ", " + i % shape[1] + "] is "
                                + values[i] + "; a prompt must be finite");
                    }
                }
                yield new Prompt(shape[0], shape[1], values, null, null);
            }
        };
    }

    private void write(Prompt prompt, Format output, LanguageModel lm) {
        switch (output) {
            case PEFT -> {
                if (lm == null) {
                    throw new IllegalArgumentException("--format peft needs --model PATH: adapter_config.json records the"
                            + " base model's name, layers and attention heads");
                }
                if (Files.exists(to) && !Files.isDirectory(to)) {
                    throw new IllegalArgumentException("--to " + to + " is a file; a PEFT adapter is a folder");
                }
                PeftAdapter.write(to, prompt.values(), prompt.rows(), prompt.width(),
                        new PeftAdapter.TuningConfig(lm.name(), lm.layers(), lm.heads(), "RANDOM", null, null));
            }
            case KOBOLD -> {
                String title = name != null ? name : prompt.name() != null ? prompt.name()
                        : to.getFileName().toString().replaceFirst("(?i)\\.zip$", "");
                String text = description != null ? description : prompt.description();
                new KoboldSoftPrompt(prompt.rows(), prompt.width(), prompt.values(), title, null,
                        lm == null ? List.of() : List.of(lm.name()), text).write(to);
            }
            case NPY -> {
                try {
                    AtomicFile.write(to, new NpyArray(new int[] {prompt.rows(), prompt.width()}, prompt.values()).toBytes());
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write " + to + ": " + e.getMessage(), e);
                }
            }
        }
    }
}
