package dev.promptgrad.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Hugging Face's decoders: how a list of vocabulary pieces becomes text. Each variant mirrors the
 * {@code decoder} type of the same name in {@code tokenizer.json} and works, like HF's {@code decode_chain},
 * on the whole list of pieces; the final text is the concatenation. {@link ByteLevel} (GPT-2),
 * {@link Replace}/{@link ByteFallback}/{@link Fuse}/{@link Strip} (Llama 2), {@link Metaspace}, {@link Sequence}.
 */
sealed interface TokenDecoder {

    List<String> decode(List<String> pieces);

    /** The text of {@code pieces}. */
    default String decodeToText(List<String> pieces) {
        return String.join("", decode(pieces));
    }

    /**
     * Pieces written in {@link ByteLevelAlphabet} back to bytes, then UTF-8 with U+FFFD for ill-formed parts. A piece
     * with a character outside the alphabet (an added token like {@code <|im_start|>} usually has none) contributes
     * its own UTF-8 bytes, as in HF.
     */
    record ByteLevel() implements TokenDecoder {
        @Override
        public List<String> decode(List<String> pieces) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String piece : pieces) {
                boolean inAlphabet = true;
                for (int i = 0; i < piece.length() && inAlphabet; i++) inAlphabet = ByteLevelAlphabet.byteOf(piece.charAt(i)) >= 0;
                if (inAlphabet) {
                    for (int i = 0; i < piece.length(); i++) bytes.write(ByteLevelAlphabet.byteOf(piece.charAt(i)));
                } else {
                    bytes.writeBytes(piece.getBytes(StandardCharsets.UTF_8));
                }
            }
            return List.of(LossyUtf8.decode(bytes.toByteArray()));
        }
    }

    /** Replaces every match of {@code pattern} in each piece by {@code content}, within a {@link MatchBudget}. */
    record Replace(Pattern pattern, String content) implements TokenDecoder {
        @Override
        public List<String> decode(List<String> pieces) {
            List<String> out = new ArrayList<>(pieces.size());
            for (String piece : pieces) out.add(MatchBudget.replaceAll(pattern, piece, content));
            return out;
        }
    }

    /**
     * Runs of {@code <0xXX>} pieces become the text of their bytes; a run that is not valid UTF-8 becomes one U+FFFD
     * per byte, as in HF.
     */
    record ByteFallback() implements TokenDecoder {
        @Override
        public List<String> decode(List<String> pieces) {
            List<String> out = new ArrayList<>(pieces.size());
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (String piece : pieces) {
                int b = byteOfPiece(piece);
                if (b >= 0) {
                    run.write(b);
                    continue;
                }
                flush(run, out);
                out.add(piece);
            }
            flush(run, out);
            return out;
        }

        /** The byte of a {@code <0xXX>} piece, or -1 for any other piece. */
        static int byteOfPiece(String piece) {
            if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
            int high = hexDigit(piece.charAt(3)), low = hexDigit(piece.charAt(4));
            return high < 0 || low < 0 ? -1 : high * 16 + low;
        }

        private static int hexDigit(char c) {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            if (c >= 'A' && c <= 'F') return c - 'A' + 10;
            return -1;
        }

        private static void flush(ByteArrayOutputStream run, List<String> out) {
            if (run.size() == 0) return;
            byte[] bytes = run.toByteArray();
            try {
                out.add(StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString());
            } catch (CharacterCodingException e) {
                out.addAll(Collections.nCopies(bytes.length, "\uFFFD"));
            }
            run.reset();
        }
    }

    /** All pieces joined into one. */
    record Fuse() implements TokenDecoder {
        @Override
        public List<String> decode(List<String> pieces) {
            return List.of(String.join("", pieces));
        }
    }

    /** Removes up to {@code start} leading and {@code stop} trailing {@code content} characters from each piece. */
    record Strip(char content, int start, int stop) implements TokenDecoder {
        @Override
        public List<String> decode(List<String> pieces) {
            List<String> out = new ArrayList<>(pieces.size());
            for (String piece : pieces) {
                int from = 0, to = piece.length();
                while (from < start && from < to && piece.charAt(from) == content) from++;
                int cut = 0;
                while (cut < stop && to > from && piece.charAt(to - 1) == content) {
                    to--;
                    cut++;
                }
                out.add(piece.substring(from, to));
            }
            return out;
        }
    }

    /** ▁ back to spaces; in the first piece the ▁ are dropped when a prefix was prepended on the way in. */
    record Metaspace(char replacement, PreTokenizer.PrependScheme scheme) implements TokenDecoder {
        @Override
        public List<String> decode(List<String> pieces) {
            List<String> out = new ArrayList<>(pieces.size());
            for (int i = 0; i < pieces.size(); i++) {
                String piece = pieces.get(i);
                if (i == 0 && scheme != PreTokenizer.PrependScheme.NEVER) {
                    out.add(piece.replace(String.valueOf(replacement), ""));
                } else {
                    out.add(piece.replace(replacement, ' '));
                }
            }
            return out;
        }
    }

    /** Each step applied to the pieces of the step before. */
    record Sequence(List<TokenDecoder> steps) implements TokenDecoder {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public List<String> decode(List<String> pieces) {
            for (TokenDecoder step : steps) pieces = step.decode(pieces);
            return pieces;
        }
    }
}
