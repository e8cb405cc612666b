package dev.promptgrad.hard;

import dev.promptgrad.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Set;

/**
 * Which tokens a hard-prompt search may use. Always out: excluded ids (BOS, EOS, stop tokens), special tokens and
 * ids past the tokenizer's vocabulary; optionally out: text that is not printable ASCII, and tokens failing the
 * round trip {@code encode(decode([id])) == [id]} (skipped without a tokenizer, which ASCII needs). It decides
 * membership only; searches use it through {@link VocabularyIndex}.
 */
public final class CandidateFilter {

    /**
     * @param asciiOnly keep only tokens whose decoded text is non-empty printable ASCII (0x20–0x7E)
     * @param roundTrip keep only tokens with {@code encode(decode([id])) == [id]} (skipped without a tokenizer)
     */
    public record Settings(boolean asciiOnly, boolean roundTrip) {
        /** The search default: any text, round trip on. */
        public static final Settings DEFAULT = new Settings(false, true);
    }

    private final Tokenizer tokenizer;   // null: ids only
    private final Settings settings;
    private final boolean[] allowed;     // (vocab)
    private final int count;
    private final String summary;

    private CandidateFilter(Tokenizer tokenizer, Settings settings, boolean[] allowed, String summary) {
        this.tokenizer = tokenizer;
        this.settings = settings;
        this.allowed = allowed;
        this.summary = summary;
        int n = 0;
        for (boolean a : allowed) if (a) n++;
        this.count = n;
    }

    /**
     * The filter over a model vocabulary of {@code vocabSize} ids.
     *
     * @param tokenizer null when the model has none (then only {@code excluded} applies)
     * @param excluded  ids that never go in a prompt (BOS, EOS, stop tokens)
     * @throws IllegalArgumentException if no token is left, naming what removed them, or if {@code asciiOnly} is
     *                                  asked without a tokenizer
     */
    public static CandidateFilter build(int vocabSize, Tokenizer tokenizer, Set<Integer> excluded, Settings settings) {
        if (vocabSize < 1) throw new IllegalArgumentException("the vocabulary is empty");
        if (settings.asciiOnly() && tokenizer == null) {
            throw new IllegalArgumentException("keeping only ASCII tokens needs a tokenizer to decode them, and the"
                    + " model has none; give a tokenizer or drop the ASCII filter");
        }
        boolean[] allowed = new boolean[vocabSize];
        Arrays.fill(allowed, true);
        int special = 0, beyond = 0, ascii = 0, roundTrip = 0, given = 0;
        for (int id = 0; id < vocabSize; id++) {
            if (excluded.contains(id)) {
                allowed[id] = false;
                given++;
                continue;
            }
            if (tokenizer == null) continue;
            if (id >= tokenizer.vocabSize()) {
                allowed[id] = false;
                beyond++;
            } else if (tokenizer.specialTokens().contains(id)) {
                allowed[id] = false;
                special++;
            } else {
                String text = tokenizer.decode(new int[] {id}, false);
                if (settings.asciiOnly() && !printableAscii(text)) {
                    allowed[id] = false;
                    ascii++;
                } else if (settings.roundTrip() && !Arrays.equals(tokenizer.encode(text), new int[] {id})) {
                    allowed[id] = false;
                    roundTrip++;
                }
            }
        }
        StringBuilder removed = new StringBuilder();
        appendCount(removed, given, "excluded ids (BOS, EOS, stop tokens)");
        appendCount(removed, special, "special tokens");
        appendCount(removed, beyond, "ids past the tokenizer's vocabulary");
        appendCount(removed, ascii, "not printable ASCII");
        appendCount(removed, roundTrip, "not surviving decode → encode");
        int kept = 0;
        for (boolean a : allowed) if (a) kept++;
        if (kept == 0) {
            throw new IllegalArgumentException("no candidate token is left of the " + vocabSize + " in the vocabulary"
                    + " (removed " + removed + "); relax the filter (allow non-ASCII tokens or skip the round trip)");
        }
        String summary = kept + " of " + vocabSize + " tokens are candidates"
                + (tokenizer == null ? " (no tokenizer: the round trip is skipped, prompts are ids)" : "")
                + (removed.length() == 0 ? "" : "; removed " + removed);
        return new CandidateFilter(tokenizer, settings, allowed, summary);
    }

    /** Whether {@code id} may go in a prompt. */
    public boolean allows(int id) {
        return id >= 0 && id < allowed.length && allowed[id];
    }

    /** One flag per vocabulary id; a copy. */
    public boolean[] allowed() {
        return allowed.clone();
    }

    /** How many ids are allowed (at least one). */
    public int count() {
        return count;
    }

    public int vocabSize() {
        return allowed.length;
    }

    /** How many tokens are candidates and what removed the others, for progress lines. */
    public String summary() {
        return summary;
    }

    /**
     * Whether the whole {@code prompt} re-tokenizes to itself ({@code encode(decode(prompt)) == prompt}). True
     * without a tokenizer or with the round trip off: then nothing is checked.
     */
    public boolean roundTrips(int[] prompt) {
        if (tokenizer == null || !settings.roundTrip()) return true;
        return Arrays.equals(tokenizer.encode(tokenizer.decode(prompt, false)), prompt);
    }

    private static boolean printableAscii(String text) {
        if (text.isEmpty()) return false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c > 0x7E) return false;
        }
        return true;
    }

    private static void appendCount(StringBuilder out, int count, String what) {
        if (count == 0) return;
        if (out.length() > 0) out.append(", ");
        out.append(count).append(' ').append(what);
    }
}
