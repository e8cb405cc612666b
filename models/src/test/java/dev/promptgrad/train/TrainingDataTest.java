package dev.promptgrad.train;

import dev.promptgrad.data.BosEosRule;
import dev.promptgrad.data.CharTokenizer;
import dev.promptgrad.data.DataFormatException;
import dev.promptgrad.data.Example;
import dev.promptgrad.data.JsonlReader;
import dev.promptgrad.testing.Messages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The training rules on top of the JSONL reader: truncation from the left of the input (keeping BOS and every
 * scored token), refusal of unscored lines and of outputs too long to keep, the seeded eval split, the
 * fingerprint and the class labels. Uses {@link CharTokenizer} (BOS 1, EOS 2, 'a' = 4).
 */
class TrainingDataTest {
    private static final BosEosRule BOS_ONLY = new BosEosRule(OptionalInt.of(CharTokenizer.BOS), OptionalInt.empty());
    private final JsonlReader reader = new JsonlReader(new CharTokenizer(), BOS_ONLY, 30, 20, "a test limit");

    @TempDir
    Path folder;

    private Path file(String name, String... lines) throws IOException {
        return Files.writeString(folder.resolve(name), String.join("\n", lines) + "\n");
    }

    private TrainingData read(Path train, int maxLength) {
        return TrainingData.read(reader, train, null, 0, 0, maxLength, OptionalInt.of(CharTokenizer.BOS));
    }

    @Test
    void truncatesTheInputFromTheLeftAfterBos() throws IOException {
        // [BOS a b c d e f] input, then output "xy" and EOS: 10 tokens
        Path train = file("train.jsonl", "{\"input\": \"abcdef\", \"output\": \"xy\"}",
                "{\"input\": \"ab\", \"output\": \"z\"}");
        Example cut = read(train, 6).train().get(0);
        assertArrayEquals(new int[] {1, 8, 9, 27, 28, 2}, cut.inputIds(), "BOS, then 'e f', then 'x y' and EOS");
        assertArrayEquals(new int[] {-100, -100, -100, 27, 28, 2}, cut.labels());
        assertArrayEquals(new int[] {1, 4, 5, 29, 2}, read(train, 6).train().get(1).inputIds(),
                "short examples stay whole");
    }

    @Test
    void refusesToCutScoredTokensOrTrainOnUnscoredLines() throws IOException {
        Path tooLong = file("long.jsonl", "", "{\"input\": \"a\", \"output\": \"xyz\"}",
                "{\"input\": \"abcdef\", \"output\": \"xyzw\"}");
        DataFormatException cut = assertThrows(DataFormatException.class, () -> read(tooLong, 5));
        assertEquals(3, cut.line(), "blank lines count, as the reader counts them");
        Messages.assertMentions(cut, tooLong + ":3:", "more than --max-length 5", "scored token");
        Path unscored = file("unscored.jsonl", "{\"input_ids\": [4, 5], \"labels\": [4, 5]}",
                "{\"input_ids\": [4, 5, 6], \"labels\": [-100, -100, -100]}");
        Messages.assertMentions(assertThrows(DataFormatException.class, () -> read(unscored, 20)),
                unscored + ":2:", "every label is -100");
    }

    @Test
    void evalSplitIsSeededAndKeepsFileOrder() throws IOException {
        String[] lines = new String[10];
        for (int i = 0; i < lines.length; i++) lines[i] = "{\"input_ids\": [" + (i + 3) + "]}";
        Path train = file("train.jsonl", lines);
        TrainingData a = TrainingData.read(reader, train, null, 0.3, 5, 20, OptionalInt.empty());
        TrainingData b = TrainingData.read(reader, train, null, 0.3, 5, 20, OptionalInt.empty());
        TrainingData c = TrainingData.read(reader, train, null, 0.3, 6, 20, OptionalInt.empty());
        assertEquals(7, a.train().size());
        assertEquals(3, a.eval().size());
        assertEquals(a.eval(), b.eval());
        assertEquals(a.fingerprint(), b.fingerprint());
        assertNotEquals(a.fingerprint(), c.fingerprint(), "another seed holds out other examples");
        List<Integer> held = a.eval().stream().map(e -> e.inputIds()[0]).toList();
        assertEquals(held.stream().sorted().toList(), held, "held-out examples keep file order");
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> TrainingData.read(reader, train, train, 0.2, 0, 20, OptionalInt.empty())), "not both");
        Messages.assertMentions(assertThrows(IllegalArgumentException.class,
                () -> TrainingData.read(reader, train, null, 1.0, 0, 20, OptionalInt.empty())), "--eval-split 1.0");
    }

    @Test
    void distinctLabelsAreTheOutputsWithoutEos() throws IOException {
        Path train = file("train.jsonl", "{\"input\": \"review one\", \"output\": \"good\"}",
                "{\"input\": \"review two\", \"output\": \"bad\"}",
                "{\"input\": \"review three\", \"output\": \"good\"}");
        List<int[]> labels = read(train, 20).distinctLabels(OptionalInt.of(CharTokenizer.EOS));
        assertEquals(2, labels.size());
        assertArrayEquals(new CharTokenizer().encode("good"), labels.get(0));
        assertArrayEquals(new CharTokenizer().encode("bad"), labels.get(1));
    }
}
