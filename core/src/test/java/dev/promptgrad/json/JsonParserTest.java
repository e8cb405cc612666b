package dev.promptgrad.json;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Parsing valid documents into plain values, and each kind of malformed input with the message it gets. */
class JsonParserTest {

    private static final JsonLimits LIMITS = JsonLimits.upTo(1 << 20);

    private static Object parse(String text) {
        return Json.parse(text, "test.json", LIMITS);
    }

    private static String error(String text) {
        return assertThrows(JsonException.class, () -> parse(text)).getMessage();
    }

    private static String error(byte[] utf8) {
        return assertThrows(JsonException.class, () -> Json.parse(utf8, "test.json", LIMITS)).getMessage();
    }

    @Test
    void parsesEveryKindOfValue() {
        Object value = parse(" {\"b\": [1, -2, 3.5, -0.25e2, 1E3, true, false, null, \"s\"], \"a\": {}, \"c\": []}\n");
        Map<?, ?> map = assertInstanceOf(LinkedHashMap.class, value);
        assertEquals(List.of("b", "a", "c"), List.copyOf(map.keySet()), "document order is kept");
        List<?> b = (List<?>) map.get("b");
        assertEquals(Arrays.asList(1L, -2L, 3.5, -25.0, 1000.0, true, false, null, "s"), b);
        assertInstanceOf(Long.class, b.get(0));
        assertInstanceOf(Double.class, b.get(4), "an exponent makes a double even when the value is integral");
        assertEquals(Map.of(), map.get("a"));
        assertEquals(List.of(), map.get("c"));
    }

    @Test
    void numbersBecomeLongWhenIntegralAndInRangeElseDouble() {
        assertEquals(Long.MAX_VALUE, parse("9223372036854775807"));
        assertEquals(Long.MIN_VALUE, parse("-9223372036854775808"));
        assertEquals(9.223372036854775808E18, parse("9223372036854775808"));
        assertEquals(0L, parse("-0"));
        assertEquals(-0.0, parse("-0.0"));
        assertEquals(0.1, parse("0.1"));
        assertEquals(5e-324, parse("4.9406564584124654e-324"));
        assertEquals(1.7976931348623157e308, parse("1.7976931348623157e308"));
    }

    @Test
    void decodesEscapesAndSurrogatePairs() {
        assertEquals("\"\\/\b\f\n\r\t", parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
        assertEquals("caf\u00e9 \ud83d\ude00", parse("\"caf\\u00E9 \\ud83d\\uDE00\""));
        assertEquals("caf\u00e9 \ud83d\ude00", parse("\"caf\u00e9 \ud83d\ude00\""), "raw non-ASCII is kept");
        byte[] utf8 = "[\"\u4e2d\ud83d\ude00\"]".getBytes(StandardCharsets.UTF_8);
        assertEquals(List.of("\u4e2d\ud83d\ude00"), Json.parse(utf8, "test.json", LIMITS));
    }

    @Test
    void readsAFileAndNamesItInErrors(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("config.json");
        Files.writeString(file, "{\n  \"n_layer\": 2,\n  \"n_head\": 4,\n}\n");
        JsonException e = assertThrows(JsonException.class, () -> Json.parseFile(file, LIMITS));
        assertEquals(file + ":4:1: expected a string key after ',' but found '}' (trailing commas are not allowed)",
                e.getMessage());
        assertEquals(file.toString(), e.source());
        assertEquals(4, e.line());
        assertEquals(1, e.column());

        Files.writeString(file, "{\"n_layer\": 2}");
        assertEquals(2, Json.parseObjectFile(file, LIMITS).requireInt("n_layer"));
        JsonException tooBig = assertThrows(JsonException.class, () -> Json.parseFile(file, JsonLimits.upTo(10)));
        assertEquals(file + ": the file is larger than the limit of 10 bytes for this kind of document", tooBig.getMessage());
    }

    @Test
    void trailingCommas() {
        assertEquals("test.json:1:8: expected a value after ',' but found ']' (trailing commas are not allowed)",
                error("[1, 2, ]"));
        assertEquals("test.json:1:10: expected a string key after ',' but found '}' (trailing commas are not allowed)",
                error("{\"a\": 1, }"));
    }

    @Test
    void unterminatedStrings() {
        assertEquals("test.json:1:2: unterminated string: no closing '\"' before the end of the document",
                error("[\"abc"));
        assertEquals("test.json:1:5: control character U+000A must be escaped inside a string"
                + " (is the closing '\"' missing?)", error("[\"ab\n\"]"));
    }

    @Test
    void badEscapes() {
        assertEquals("test.json:1:4: invalid escape '\\x'; valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX",
                error("\"ab\\x\""));
        assertEquals("test.json:1:2: invalid escape: \\u needs four hex digits but found 'G'", error("\"\\u12G4\""));
        assertEquals("test.json:1:2: invalid escape: \\u needs four hex digits", error("\"\\u12"));
        assertEquals("test.json:1:2: invalid escape '\\''; valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t"
                + " and \\uXXXX", error("\"\\'\""));
    }

    @Test
    void loneSurrogates() {
        assertEquals("test.json:1:3: unpaired surrogate \\uD800: a high surrogate must be followed by a \\u escape"
                + " of a low surrogate (DC00-DFFF)", error("[\"\\uD800\"]"));
        assertEquals("test.json:1:3: unpaired surrogate \\uD800: a high surrogate must be followed by a \\u escape"
                + " of a low surrogate (DC00-DFFF)", error("[\"\\uD800\\u0041\"]"));
        assertEquals("test.json:1:4: unpaired surrogate \\uDC00: a low surrogate must follow a high one",
                error("[\"a\\uDC00\"]"));
        assertEquals("test.json:1:3: unpaired surrogate U+D83D in a string; the text is not valid Unicode",
                error("[\"\ud83d\"]"));
    }

    @Test
    void bytesThatAreNotUtf8() {
        assertEquals("test.json:2:5: byte 0xFF at byte offset 7 is not valid UTF-8 (it cannot start a character)",
                error(new byte[] {'[', '\n', ' ', '"', (byte) 0xC3, (byte) 0xA9, 'a', (byte) 0xFF, '"', ']'}));
        assertEquals("test.json:1:2: byte 0xC0 at byte offset 1 is not valid UTF-8 (it cannot start a character)",
                error(new byte[] {'"', (byte) 0xC0, (byte) 0x80, '"'}), "an overlong NUL");
        assertEquals("test.json:1:2: invalid UTF-8 sequence at byte offset 1: 0xA0 cannot follow 0xED (overlong,"
                + " surrogate, out of range or truncated)",
                error(new byte[] {'"', (byte) 0xED, (byte) 0xA0, (byte) 0x80, '"'}), "an encoded surrogate");
        assertEquals("test.json:1:2: invalid UTF-8 sequence at byte offset 1: 0x80 cannot follow 0xE0 (overlong,"
                + " surrogate, out of range or truncated)",
                error(new byte[] {'"', (byte) 0xE0, (byte) 0x80, (byte) 0xAF, '"'}), "an overlong '/'");
        assertEquals("test.json:1:2: invalid UTF-8 sequence at byte offset 1: 0x90 cannot follow 0xF4 (overlong,"
                + " surrogate, out of range or truncated)",
                error(new byte[] {'"', (byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80, '"'}), "above U+10FFFF");
        assertEquals("test.json:1:2: UTF-8 sequence starting with 0xE4 at byte offset 1 is cut off by the end of the text",
                error(new byte[] {'"', (byte) 0xE4, (byte) 0xB8}));
        assertEquals("test.json:1:1: the text starts with a UTF-8 byte order mark, which JSON does not allow;"
                + " save it as UTF-8 without BOM", error(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '1'}));
    }

    @Test
    void trailingGarbage() {
        assertEquals("test.json:1:9: expected the end of the document after the top-level value, but found '}'",
                error("{\"a\": 1}}"));
        assertEquals("test.json:2:1: expected the end of the document after the top-level value, but found '2'",
                error("1\n2"));
    }

    @Test
    void duplicateKeys() {
        assertEquals("test.json:1:18: duplicate key \"a\" in object", error("{\"a\": 1, \"b\": 2, \"a\": 3}"));
    }

    @Test
    void depthBombIsStoppedAtTheLimit() {
        String deep = "[".repeat(512) + "]".repeat(512);
        assertEquals(List.of(), unwrap(parse(deep), 511));
        String bomb = "[".repeat(100_000);
        assertEquals("test.json:1:513: arrays and objects nest deeper than the limit of 512 levels", error(bomb));
        String objects = "{\"a\":".repeat(600) + "1" + "}".repeat(600);
        assertEquals("test.json:1:2561: arrays and objects nest deeper than the limit of 512 levels", error(objects));
    }

    private static Object unwrap(Object value, int levels) {
        for (int i = 0; i < levels; i++) value = ((List<?>) value).get(0);
        return value;
    }

    @Test
    void stringAndDocumentLimits() {
        JsonLimits small = new JsonLimits(8, 5, 100);
        assertEquals("abcde", Json.parse("\"abcde\"", "s.json", small));
        JsonException longString = assertThrows(JsonException.class, () -> Json.parse("[\"abcdef\"]", "s.json", small));
        assertEquals("s.json:1:2: string longer than the limit of 5 characters", longString.getMessage());
        JsonException longEscaped = assertThrows(JsonException.class,
                () -> Json.parse("{\"\\u0041\\u0041\\u0041\\u0041\\u0041\\u0041\": 1}", "s.json", small));
        assertEquals("s.json:1:2: string longer than the limit of 5 characters", longEscaped.getMessage());
        JsonException bigDocument = assertThrows(JsonException.class,
                () -> Json.parse(new byte[101], "s.json", small));
        assertEquals("s.json: the document is 101 bytes, more than the limit of 100", bigDocument.getMessage());
        JsonException bigText = assertThrows(JsonException.class, () -> Json.parse(" ".repeat(101), "s.json", small));
        assertEquals("s.json:1:1: the document has 101 characters, more than the limit of 100", bigText.getMessage());
    }

    @Test
    void otherMalformedDocuments() {
        assertEquals("test.json:2:2: expected a JSON value but the document is empty", error(" \n "));
        assertEquals("test.json:1:2: expected a value (object, array, string, number, true, false or null) but"
                + " found '''", error("['a']"));
        assertEquals("test.json:1:1: numbers must not have leading zeros", error("012"));
        assertEquals("test.json:1:4: expected a digit after the decimal point but found ']'", error("[1.]"));
        assertEquals("test.json:1:2: expected a digit after '-' but found 'I'", error("-Infinity"));
        assertEquals("test.json:1:3: expected a digit in the exponent but found the end of the document", error("1e"));
        assertEquals("test.json:1:1: number 1e400 is too large for a 64-bit float", error("1e400"));
        assertEquals("test.json:1:1: expected a value but found 'n' (did you mean null?)", error("nul"));
        assertEquals("test.json:1:2: expected a value (object, array, string, number, true, false or null) but"
                + " found 'N'", error("[NaN]"));
        assertEquals("test.json:1:2: expected a string key but found '1'", error("{1: 2}"));
        assertEquals("test.json:1:6: expected ':' after the object key \"a\" but found '1'", error("{\"a\" 1}"));
        assertEquals("test.json:1:4: expected ',' or ']' after array element 0 but found '2'", error("[1 2]"));
        assertEquals("test.json:1:9: expected ',' or '}' after the value of key \"a\" but found the end of the document",
                error("{\"a\": 1 "));
        assertEquals("test.json:1:2: expected a value (object, array, string, number, true, false or null) but"
                + " found '/'", error("[// comment\n1]"));
        assertEquals("test.json:1:1: expected a value (object, array, string, number, true, false or null) but"
                + " found U+FEFF", error("\ufeff{}"));
        assertEquals("test.json:1:4: expected a value (object, array, string, number, true, false or null) but"
                + " found '\u00e9' (U+00E9)", error("[1,\u00e9]"));
    }

    @Test
    void columnsCountCodePointsOnTheLine() {
        assertEquals("test.json:2:5: expected ',' or ']' after array element 1 but found 'x'",
                error("[1,\n\"\ud83d\ude00\" x]"));
    }
}
