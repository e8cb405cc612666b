package dev.promptgrad.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BOS/EOS from a llama2.c .bin, a tokenizer.json post-processor template, and tokenizer_config.json overrides. */
class BosEosRuleTest {
    private static final String LLAMA_TEMPLATE = "{\"post_processor\": {\"type\": \"TemplateProcessing\","
            + " \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
            + " \"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}}}";

    @TempDir
    Path folder;

    private final CharTokenizer tokenizer = new CharTokenizer();

    private Path tokenizerJson(String content) throws IOException {
        Path json = folder.resolve("tokenizer.json");
        Files.writeString(json, content);
        return json;
    }

    @Test
    void llama2cBinStartsWithBosAndHasNoEos() {
        BosEosRule rule = BosEosRule.of(folder.resolve("tok512.bin"), tokenizer);
        assertEquals(new BosEosRule(OptionalInt.of(1), OptionalInt.empty()), rule);
        assertArrayEquals(new int[]{1, 7, 8}, rule.wrap(new int[]{7, 8}));
    }

    @Test
    void templateWithLeadingSpecialTokenAddsBos() throws IOException {
        Path json = tokenizerJson(LLAMA_TEMPLATE);
        assertEquals(new BosEosRule(OptionalInt.of(1), OptionalInt.empty()), BosEosRule.of(json, tokenizer));
        assertEquals(new BosEosRule(OptionalInt.of(1), OptionalInt.empty()), BosEosRule.of(folder, tokenizer));
    }

    @Test
    void templateInsideASequenceAndATrailingEos() throws IOException {
        Path json = tokenizerJson("{\"post_processor\": {\"type\": \"Sequence\", \"processors\": ["
                + "{\"type\": \"ByteLevel\"}, {\"type\": \"TemplateProcessing\", \"single\": ["
                + "{\"SpecialToken\": {\"id\": \"<b>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
                + " {\"SpecialToken\": {\"id\": \"<e>\", \"type_id\": 0}}], \"special_tokens\": {"
                + "\"<b>\": {\"id\": \"<b>\", \"ids\": [27], \"tokens\": [\"<b>\"]},"
                + "\"<e>\": {\"id\": \"<e>\", \"ids\": [28], \"tokens\": [\"<e>\"]}}}]}}");
        BosEosRule rule = BosEosRule.of(json, tokenizer);
        assertArrayEquals(new int[]{27, 5, 28}, rule.wrap(new int[]{5}));
        assertArrayEquals(new int[]{27, 5}, rule.start(new int[]{5}));
    }

    @Test
    void byteLevelPostProcessorAddsNothing() throws IOException {
        Path json = tokenizerJson("{\"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true}}");
        assertEquals(BosEosRule.NONE, BosEosRule.of(json, tokenizer));
        assertArrayEquals(new int[]{5}, BosEosRule.NONE.wrap(new int[]{5}));
    }

    @Test
    void tokenizerConfigOverridesTheTemplate() throws IOException {
        Path json = tokenizerJson(LLAMA_TEMPLATE);
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_bos_token\": false, \"add_eos_token\": true}");
        assertEquals(new BosEosRule(OptionalInt.empty(), OptionalInt.of(2)), BosEosRule.of(json, tokenizer));
    }

    @Test
    void configAskingForAMissingTokenIsRefused() throws IOException {
        Path json = tokenizerJson("{\"post_processor\": null}");
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"add_bos_token\": true}");
        CharTokenizer noBos = new CharTokenizer() {
            @Override
            public OptionalInt bos() {
                return OptionalInt.empty();
            }
        };
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BosEosRule.of(json, noBos));
        assertTrue(e.getMessage().contains("add_bos_token is true, but the tokenizer has no BOS token"), e.getMessage());
    }
}
