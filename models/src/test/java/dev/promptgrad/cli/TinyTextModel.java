package dev.promptgrad.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The golden gpt2-tiny weights in a folder with a hand-made Llama-style tokenizer.json (BOS from the template,
 * EOS from tokenizer_config.json), so that commands reading text can run on a model of 16 dimensions and every
 * id is known: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2, ▁ 3, a…z 4…29, ▁a 30, ▁b 31. Test code only.
 */
final class TinyTextModel {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/gpt2-tiny");
    /** The fixture's PEFT adapter: 5 virtual tokens, 16 wide. */
    static final Path ADAPTER = FIXTURE.resolve("adapter");

    private TinyTextModel() {
    }

    /** Writes the model folder at {@code folder} and returns it. */
    static Path write(Path folder) {
        StringBuilder letters = new StringBuilder();
        for (char c = 'a'; c <= 'z'; c++) letters.append(", \"").append(c).append("\": ").append(4 + c - 'a');
        String tokenizer = """
                {"added_tokens": [
                   {"id": 0, "content": "<unk>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
                   {"id": 1, "content": "<s>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false},
                   {"id": 2, "content": "</s>", "special": true, "lstrip": false, "rstrip": false, "single_word": false, "normalized": false}],
                 "normalizer": null,
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
                 "post_processor": {"type": "TemplateProcessing",
                   "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                   "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
                 "decoder": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
                 "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": false,
                   "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3%s, "▁a": 30, "▁b": 31},
                   "merges": ["▁ a", "▁ b"]}}
                """.formatted(letters);
        try {
            Files.createDirectories(folder);
            Files.copy(FIXTURE.resolve("config.json"), folder.resolve("config.json"));
            Files.copy(FIXTURE.resolve("model.safetensors"), folder.resolve("model.safetensors"));
            Files.writeString(folder.resolve("tokenizer.json"), tokenizer);
            Files.writeString(folder.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return folder;
    }
}
