package dev.promptgrad.testing;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** The folders of the PyTorch golden fixtures on the test class path (tools/README.md). Test code only. */
public final class Fixtures {

    private Fixtures() {
    }

    /** {@code fixtures/<name>/}, e.g. "gpt2-tiny": a Hugging Face model folder, golden.json, golden.safetensors. */
    public static Path folder(String name) {
        URL config = Fixtures.class.getResource("/fixtures/" + name + "/config.json");
        if (config == null) {
            throw new IllegalStateException("fixture " + name + " is missing; run tools/golden_fixtures.py");
        }
        try {
            return Path.of(config.toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException("fixture " + name + " is not a file: " + config, e);
        }
    }
}
