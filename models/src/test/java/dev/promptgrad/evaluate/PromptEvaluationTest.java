package dev.promptgrad.evaluate;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.data.Example;
import dev.promptgrad.model.LanguageModel;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * PromptEvaluation's bookkeeping on gpt2-tiny: exact match compares decoded, trimmed text (a tokenizer that decodes
 * everything to " yes " matches the output "yes" and not "no"), ids the tokenizer lacks never match, and the label
 * metrics appear only for 2 … 20 distinct outputs.
 */
class PromptEvaluationTest {

    /** Decodes any ids below {@code vocab} to " yes "; encodes a text to one id per character. */
    private record YesTokenizer(int vocab) implements Tokenizer {
        @Override
        public int[] encode(String text) {
            return text.chars().map(c -> 3 + c % 20).toArray();
        }

        @Override
        public String decode(int[] ids, boolean skipSpecial) {
            return " yes ";
        }

        @Override
        public String token(int id) {
            return "t" + id;
        }

        @Override
        public int vocabSize() {
            return vocab;
        }

        @Override
        public OptionalInt bos() {
            return OptionalInt.empty();
        }

        @Override
        public OptionalInt eos() {
            return OptionalInt.empty();
        }

        @Override
        public OptionalInt pad() {
            return OptionalInt.empty();
        }

        @Override
        public Set<Integer> specialTokens() {
            return Set.of();
        }

        @Override
        public String name() {
            return "yes";
        }
    }

    @Test
    void exactMatchComparesTrimmedTextAndLabelsNeedASmallSet() {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder("gpt2-tiny"), backend)) {
            Tokenizer yes = new YesTokenizer(model.vocabSize());
            List<PromptEvaluation.Pair> pairs = List.of(
                    new PromptEvaluation.Pair(new int[] {5, 6}, "yes", yes.encode("yes")),
                    new PromptEvaluation.Pair(new int[] {7}, " no", yes.encode(" no")),
                    new PromptEvaluation.Pair(new int[] {8, 9, 10}, "yes ", yes.encode("yes ")),
                    new PromptEvaluation.Pair(new int[] {11}, "yes", yes.encode("yes")));
            List<Example> examples = List.of(new Example(new int[] {5, 6, 7}, new int[] {-100, 6, 7}));
            PromptEvaluation.Report report = PromptEvaluation.run(model, null, examples, pairs, yes, new int[0], 0, 2);
            assertEquals(0.75, report.exactMatch());
            assertEquals(4, report.pairs());
            assertEquals(List.of(" no", "yes", "yes "), report.labels());
            assertEquals(2, report.labelledTokens());

            PromptEvaluation.Report unknownIds = PromptEvaluation.run(model, null, examples, pairs, new YesTokenizer(1),
                    new int[0], 0, 2);
            assertEquals(0.0, unknownIds.exactMatch(), "ids the tokenizer does not know never match");

            PromptEvaluation.Report oneLabel = PromptEvaluation.run(model, null, examples, pairs.subList(0, 1), yes,
                    new int[0], 0, 2);
            assertNull(oneLabel.labels());
            assertNull(oneLabel.labelAccuracy());
            assertEquals(1.0, oneLabel.exactMatch());

            PromptEvaluation.Report noPairs = PromptEvaluation.run(model, null, examples, List.of(), yes, new int[0], 0, 2);
            assertNull(noPairs.exactMatch());
            assertEquals(Math.exp(noPairs.loss()), noPairs.perplexity(), 1e-12);
        }
    }
}
