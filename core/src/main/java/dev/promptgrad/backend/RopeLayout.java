package dev.promptgrad.backend;

/**
 * Which pairs of a head's features RoPE rotates together. Rotation j uses the angle
 * position·θ^(−2j/headSize), j = 0 … headSize/2 − 1; the layouts differ only in which two features form pair j.
 */
public enum RopeLayout {
    /** Hugging Face Llama's {@code rotate_half}: pair j is (j, j + headSize/2). */
    ROTATE_HALF,
    /** llama2.c and Meta's original code: pair j is (2j, 2j + 1). */
    INTERLEAVED
}
