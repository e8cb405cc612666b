package dev.promptgrad.encoder;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.onnx.OnnxFormatException;
import dev.promptgrad.onnx.OnnxModel;
import dev.promptgrad.testing.HostileInput;

/**
 * Fuzz target for the ONNX protobuf reader and the BERT graph walk behind it: any bytes parse and load as a BERT
 * on the reference backend, or fail with an OnnxFormatException or EncoderFormatException naming the source.
 * Seed: bert-tiny's model.onnx (tools/fuzz_seeds.py).
 */
class OnnxBertFuzzTest {
    private static final String SOURCE = "fuzz.onnx";
    private static final Backend BACKEND = new ReferenceBackend();

    @FuzzTest(maxDuration = "5m")
    void graph(byte[] input) {
        HostileInput.expectOnly(() -> OnnxBertGraph.load(OnnxModel.parse(input, SOURCE), BACKEND,
                Pooling.MEAN_ONLY).close(), SOURCE, OnnxFormatException.class, EncoderFormatException.class);
    }
}
