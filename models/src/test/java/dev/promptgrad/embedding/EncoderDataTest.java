package dev.promptgrad.embedding;

import dev.promptgrad.data.DataFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reading encoder data: {"text", "label"} and {"query", "positive"} lines (blank lines skipped, CRLF accepted), a
 * seeded held-out share, and refusals that name the file, the line and the form the objective wants, including data
 * meant for another objective.
 */
class EncoderDataTest {
    @TempDir
    Path folder;

    private Path file(String name, String... lines) throws IOException {
        return Files.writeString(folder.resolve(name), String.join("\n", lines) + "\n");
    }

    @Test
    void readsLabelledTextsAndPairs() throws IOException {
        Path labelled = file("labelled.jsonl", "{\"text\": \"the goal\", \"label\": \"sports\"}", "",
                "{\"label\": \"cooking\", \"text\": \"bake bread\"}\r");
        EncoderData<LabelledText> data = EncoderData.labelled(labelled, null, 0, 0);
        assertEquals(List.of(new LabelledText("the goal", "sports"), new LabelledText("bake bread", "cooking")),
                data.train());
        assertTrue(data.eval().isEmpty());
        Path pairs = file("pairs.jsonl", "{\"query\": \"fever\", \"positive\": \"see a doctor\"}");
        assertEquals(List.of(new TextPair("fever", "see a doctor")), EncoderData.pairs(pairs, null, 0, 0).train());
        Path again = pairs.resolveSibling("labelled.jsonl");
        EncoderData<LabelledText> withEval = EncoderData.labelled(labelled, again, 0, 0);
        assertEquals(2, withEval.eval().size(), "a held-out file is read in the same form");
    }

    @Test
    void aHeldOutShareIsSeededAndDisjoint() throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 20; i++) lines.add("{\"text\": \"text " + i + "\", \"label\": \"l" + i % 3 + "\"}");
        Path all = file("all.jsonl", lines.toArray(String[]::new));
        EncoderData<LabelledText> a = EncoderData.labelled(all, null, 0.25, 7);
        EncoderData<LabelledText> b = EncoderData.labelled(all, null, 0.25, 7);
        EncoderData<LabelledText> c = EncoderData.labelled(all, null, 0.25, 8);
        assertEquals(15, a.train().size());
        assertEquals(5, a.eval().size());
        assertEquals(a.eval(), b.eval(), "the same seed holds out the same texts");
        assertNotEquals(a.eval(), c.eval(), "another seed holds out others");
        Set<LabelledText> seen = new HashSet<>(a.train());
        for (LabelledText held : a.eval()) assertTrue(seen.add(held), held + " is in both sets");
        assertEquals(20, seen.size());
    }

    @Test
    void classifyRefusesATextWithoutALabel() throws IOException {
        Path unlabelled = file("unlabelled.jsonl", "{\"text\": \"the goal\", \"label\": \"sports\"}",
                "{\"text\": \"bake bread\"}");
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> EncoderData.labelled(unlabelled, null, 0, 0));
        assertMentions(e, unlabelled + ":2:", "no \"label\"", "--objective classify",
                "{\"text\": \"…\", \"label\": \"…\"}");
        assertEquals(2, e.line());
    }

    @Test
    void eachObjectiveNamesTheOneALineBelongsTo() throws IOException {
        Path causal = file("causal.jsonl", "{\"input\": \"2+2=\", \"output\": \"4\"}");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.labelled(causal, null, 0, 0)),
                ":1:", "causal LM data", "--objective causal-lm");
        Path labelled = file("labelled.jsonl", "{\"text\": \"the goal\", \"label\": \"sports\"}");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.pairs(labelled, null, 0, 0)),
                "a classify line", "--objective contrastive", "\"query\"");
        Path pairs = file("pairs.jsonl", "{\"query\": \"q\", \"positive\": \"p\"}");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.labelled(pairs, null, 0, 0)),
                "a contrastive pair", "--objective classify");
        Path extra = file("extra.jsonl", "{\"text\": \"t\", \"label\": \"l\", \"weight\": 2}");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.labelled(extra, null, 0, 0)),
                "[label, text, weight]");
    }

    @Test
    void refusesBadValuesAndEmptyFiles() throws IOException {
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.labelled(
                file("number.jsonl", "{\"text\": 3, \"label\": \"l\"}"), null, 0, 0)), "'text' must be a string");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.labelled(
                file("blank.jsonl", "{\"text\": \"t\", \"label\": \" \"}"), null, 0, 0)), "\"label\" is blank");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.labelled(
                file("broken.jsonl", "{\"text\": \"t\","), null, 0, 0)), ":1:", "not valid JSON");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.pairs(
                file("empty.jsonl", "", "  "), null, 0, 0)), "only blank lines");
        assertMentions(assertThrows(DataFormatException.class, () -> EncoderData.pairLines(
                "[1]".getBytes(StandardCharsets.UTF_8), "inline")), "inline:1:", "not a JSON object");
        Path one = file("one.jsonl", "{\"text\": \"t\", \"label\": \"l\"}");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> EncoderData.labelled(one, null, 0.5, 0)),
                "--eval-split needs at least 2 examples");
    }
}
