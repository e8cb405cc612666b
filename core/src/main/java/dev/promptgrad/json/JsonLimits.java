package dev.promptgrad.json;

/**
 * Bounds that keep a hostile document from exhausting the stack or memory: how deeply arrays and objects
 * may nest, how long one string (or key) may be in characters, and how large the whole document may be
 * (bytes of UTF-8 input, or characters when the input is already a String). It limits size, not content.
 *
 * @param maxDepth          the deepest allowed nesting of arrays and objects; a top-level [] is depth 1
 * @param maxStringLength   the most characters (UTF-16 units) one decoded string or key may hold
 * @param maxDocumentSize   the most bytes (or characters) the document may have
 */
public record JsonLimits(int maxDepth, int maxStringLength, long maxDocumentSize) {

    /** Nesting allowed by {@link #upTo}: far deeper than any real configuration, shallow enough for the stack. */
    public static final int DEFAULT_MAX_DEPTH = 512;

    /** String length allowed by {@link #upTo} when the document itself may be larger: 16 Mi characters. */
    public static final int DEFAULT_MAX_STRING_LENGTH = 16 << 20;

    public JsonLimits {
        if (maxDepth < 1) throw new IllegalArgumentException("maxDepth must be at least 1, got " + maxDepth);
        if (maxStringLength < 0) throw new IllegalArgumentException("maxStringLength must be >= 0, got " + maxStringLength);
        if (maxDocumentSize < 0) throw new IllegalArgumentException("maxDocumentSize must be >= 0, got " + maxDocumentSize);
    }

    /** Default depth and string limits for documents of at most {@code maxDocumentSize} bytes. */
    public static JsonLimits upTo(long maxDocumentSize) {
        int maxString = (int) Math.min(DEFAULT_MAX_STRING_LENGTH, maxDocumentSize);
        return new JsonLimits(DEFAULT_MAX_DEPTH, maxString, maxDocumentSize);
    }
}
