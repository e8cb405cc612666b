package dev.promptgrad.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JSONL examples in all three forms, and every kind of bad line reported with its file and line number. */
class JsonlReaderTest {
    private static final int X = Example.IGNORE;
    private static final BosEosRule BOS_ONLY = new BosEosRule(OptionalInt.of(CharTokenizer.BOS), OptionalInt.empty());

    @TempDir
    Path folder;

    private final JsonlReader withTokenizer = new JsonlReader(new CharTokenizer(), BOS_ONLY, 30, 12, "a test limit");
    private final JsonlReader idsOnly = new JsonlReader(null, BosEosRule.NONE, 30, 12, "a test limit");

    private Path file(String content) throws IOException {
        Path file = folder.resolve("data.jsonl");
        Files.writeString(file, content, StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void idsWithLabelsAreKeptAsGiven() throws IOException {
        List<Example> examples = idsOnly.read(file("{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 7]}\n"));
        assertEquals(List.of(new Example(new int[]{5, 6, 7}, new int[]{X, 6, 7})), examples);
    }

    @Test
    void idsWithoutLabelsAreLabelledEverywhere() throws IOException {
        List<Example> examples = idsOnly.read(file("{\"input_ids\": [0, 29]}"));
        assertArrayEquals(new int[]{0, 29}, examples.get(0).labels());
    }

    @Test
    void textIsWrappedAsTheTokenizerWrapsItAndFullyLabelled() throws IOException {
        Example example = withTokenizer.read(file("{\"text\": \"ab c\"}\n")).get(0);
        assertArrayEquals(new int[]{1, 4, 5, 3, 6}, example.inputIds());
        assertArrayEquals(new int[]{1, 4, 5, 3, 6}, example.labels());
    }

    @Test
    void inputOutputScoresOnlyTheOutputAndItsEos() throws IOException {
        Example example = withTokenizer.read(file("{\"input\": \"ab\", \"output\": \"cd\"}")).get(0);
        assertArrayEquals(new int[]{1, 4, 5, 6, 7, 2}, example.inputIds());
        assertArrayEquals(new int[]{X, X, X, 6, 7, 2}, example.labels());
        assertEquals(3, example.labelledPositions());
    }

    @Test
    void formsMixBlankLinesAreSkippedAndCrLfIsAccepted() throws IOException {
        List<Example> examples = withTokenizer.read(file("{\"input_ids\": [9]}\r\n\r\n  \n{\"text\": \"z\"}\r\n"));
        assertEquals(List.of(Example.everyToken(new int[]{9}), Example.everyToken(new int[]{1, 29})), examples);
    }

    @Test
    void aSequenceThatFillsTheLimitIsAccepted() throws IOException {
        assertEquals(12, idsOnly.read(file("{\"input_ids\": [1,2,3,4,5,6,7,8,9,10,11,12]}")).get(0).length());
    }

    private DataFormatException bad(JsonlReader reader, String content) throws IOException {
        Path file = file(content);
        DataFormatException e = assertThrows(DataFormatException.class, () -> reader.read(file));
        assertEquals(file.toString(), e.file());
        assertTrue(e.getMessage().startsWith(file + ":"), e.getMessage());
        return e;
    }

    private void badLine(String secondLine, String expected) throws IOException {
        DataFormatException e = bad(withTokenizer, "{\"input_ids\": [4]}\n" + secondLine + "\n{\"input_ids\": [5]}\n");
        assertEquals(2, e.line(), e.getMessage());
        assertTrue(e.getMessage().startsWith(folder.resolve("data.jsonl") + ":2: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void everyBadLineIsReportedWithItsNumber() throws IOException {
        badLine("{\"input_ids\": [1, 2]", "not valid JSON at column 21");
        badLine("[1, 2, 3]", "the line is an array, not a JSON object");
        badLine("{\"prompt\": \"a\", \"completion\": \"b\"}", "keys [completion, prompt], which is neither form");
        badLine("{}", "no keys, which is neither form");
        badLine("{\"text\": \"a\", \"input\": \"b\"}", "unexpected key [input] beside [text]");
        badLine("{\"input_ids\": [1], \"label\": [1]}", "unexpected key [label] beside [input_ids, labels]");
        badLine("{\"input_ids\": [1, \"2\"]}", "input_ids[1] is a string \"2\"");
        badLine("{\"input_ids\": \"1 2\"}", "'input_ids' must be an array of integers, but is a string");
        badLine("{\"input_ids\": [1.5]}", "input_ids[0] is a number 1.5");
        badLine("{\"input_ids\": []}", "'input_ids' is empty");
        badLine("{\"input_ids\": [1, 30]}", "input_ids[1] = 30 is outside the model's vocabulary [0, 30)");
        badLine("{\"input_ids\": [-1]}", "input_ids[0] = -1 is outside the model's vocabulary");
        badLine("{\"input_ids\": [1, 2], \"labels\": [2]}", "'labels' has 1 entries but 'input_ids' has 2");
        badLine("{\"input_ids\": [1, 2], \"labels\": [-1, 2]}", "labels[0] = -1 is neither -100 nor in the model's vocabulary");
        badLine("{\"text\": 7}", "'text' must be a string, but is a number 7");
        badLine("{\"input\": \"a\"}", "'output' is missing");
        badLine("{\"input\": \"a\", \"output\": null}", "'output' must be a string, but is null");
        badLine("{\"text\": \"abcdefghijklm\"}", "the example has 14 tokens, more than the 12 that fit (a test limit)");
        badLine("{\"input_ids\": [1,2,3,4,5,6,7,8,9,10,11,12,13]}", "13 tokens, more than the 12 that fit");
    }

    @Test
    void textWithoutATokenizerIsRefused() throws IOException {
        DataFormatException e = bad(idsOnly, "{\"input_ids\": [4]}\n{\"input\": \"a\", \"output\": \"b\"}\n");
        assertEquals(2, e.line());
        assertTrue(e.getMessage().contains("the line holds text ('input'), but no tokenizer was given"), e.getMessage());
    }

    @Test
    void anEmptyOrBlankFileIsAnError() throws IOException {
        assertTrue(bad(idsOnly, "").getMessage().endsWith("data.jsonl: the file is empty; each line must be one of"
                + " {\"input_ids\": [...], \"labels\": [...]}, {\"text\": \"...\"} or {\"input\": \"...\", \"output\": \"...\"}"));
        assertEquals(0, bad(idsOnly, "\n  \n").line());
        assertTrue(bad(idsOnly, "\n\n").getMessage().contains("the file has only blank lines"));
    }

    @Test
    void invalidUtf8IsReportedOnItsLine() throws IOException {
        Path file = folder.resolve("data.jsonl");
        byte[] good = "{\"input_ids\": [4]}\n".getBytes(StandardCharsets.UTF_8);
        byte[] broken = {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, '"', '}', '\n'};
        byte[] bytes = new byte[good.length + broken.length];
        System.arraycopy(good, 0, bytes, 0, good.length);
        System.arraycopy(broken, 0, bytes, good.length, broken.length);
        Files.write(file, bytes);
        DataFormatException e = assertThrows(DataFormatException.class, () -> withTokenizer.read(file));
        assertEquals(2, e.line());
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void aMissingFileIsNamed() {
        Path missing = folder.resolve("nope.jsonl");
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> idsOnly.read(missing));
        assertEquals("data file " + missing + " does not exist", e.getMessage());
    }

    @Test
    void aModelWithNoRoomForTokensIsRefusedUpFront() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new JsonlReader(null, BosEosRule.NONE, 30, 0, "the model's context of 4 positions less the prompt's 4"));
        assertEquals("no token fits in the model: at most 0 tokens (the model's context of 4 positions less the prompt's 4)",
                e.getMessage());
    }
}
