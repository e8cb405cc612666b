package dev.promptgrad.tokenizer;

/**
 * One entry of {@code tokenizer.json}'s {@code added_tokens}: a piece outside BPE (e.g. {@code <|endoftext|>},
 * {@code <s>}) with its id and matching flags. {@code lstrip}/{@code rstrip} let a match swallow the whitespace
 * before/after it; {@code singleWord} matches only between non-word characters. Special ones can be skipped
 * when decoding. Only data; matching is {@link HuggingFaceTokenizer#encodeMatchingAddedTokens}.
 */
record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip, boolean singleWord) {
}
