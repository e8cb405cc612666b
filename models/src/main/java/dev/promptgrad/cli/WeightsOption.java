package dev.promptgrad.cli;

import dev.promptgrad.model.WeightStorage;
import picocli.CommandLine.Option;

/**
 * The {@code --weights} flag of the commands that load a causal language model: how its frozen weights are stored
 * (a picocli mixin). It chooses storage only; the arithmetic is float32 whatever it says.
 */
final class WeightsOption {

    @Option(names = "--weights", paramLabel = "STORAGE", defaultValue = "f32",
            description = "How the model's weight matrices are stored: f32, bf16 (half the memory; products widen"
                    + " them to float32, so results differ from f32 only by the rounding of the weights), or auto"
                    + " (bf16 where the file stores bf16, which is then exact) (default: ${DEFAULT-VALUE}).")
    WeightStorage storage;
}
