package dev.promptgrad.checkpoint;

/**
 * The check every checkpoint reader makes on a tensor's values before it becomes a model weight: a frozen weight
 * that is NaN or infinite can only come from a corrupt or crafted file, and would turn every output into NaN far
 * from its cause. It reads values only; it knows nothing of file formats.
 */
final class FiniteWeights {

    private FiniteWeights() {
    }

    /** Returns {@code values} when every one is finite, else throws a CheckpointException naming file and tensor. */
    static float[] require(float[] values, String file, String tensor) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new CheckpointException(file + ": tensor '" + tensor + "' holds " + values[i] + " at element " + i
                        + "; a model weight must be finite (the file is corrupt)");
            }
        }
        return values;
    }
}
