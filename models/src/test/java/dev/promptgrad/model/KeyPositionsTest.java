package dev.promptgrad.model;

import dev.promptgrad.autograd.Tape;
import dev.promptgrad.autograd.Variable;
import dev.promptgrad.backend.Backend;
import dev.promptgrad.backend.ReferenceBackend;
import dev.promptgrad.checkpoint.HuggingFaceCheckpoint;
import dev.promptgrad.tensor.Tensor;
import dev.promptgrad.tensor.Workspace;
import dev.promptgrad.testing.Compare;
import dev.promptgrad.testing.Fixtures;
import dev.promptgrad.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.stream.Stream;

import static dev.promptgrad.testing.Messages.assertMentions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Key positions given per sequence (LanguageModel.forward with positions): a left-padded batch whose rows
 * start at different columns gives each real row the logits it has alone, on GPT-2 (learned positions, one
 * lookup per row) and Llama (RoPE per row); shared positions equal the default; bad positions are refused.
 */
class KeyPositionsTest {

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> Stream.of("gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3")
                .map(f -> Arguments.of(f, b)));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void leftPaddedRowsWithTheirOwnPositionsEqualEachSequenceAlone(String fixture, TestBackends.Named named) {
        int[][] sequences = {{3, 14, 15, 9, 26}, {35, 8, 9}, {7}};
        int length = 5;
        try (Backend backend = named.open();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(fixture), backend);
             Workspace workspace = new Workspace(backend, "positions")) {
            Tape tape = new Tape(backend, workspace);
            int vocab = model.vocabSize();
            int batch = sequences.length;
            int[] ids = new int[batch * length];        // (batch, length), left-padded with id 0
            float[] mask = new float[batch * length];   // (batch, length)
            int[] positions = new int[batch * length];  // (batch, length): 0 on pads, then 0, 1, …
            for (int b = 0; b < batch; b++) {
                int pads = length - sequences[b].length;
                for (int t = 0; t < length; t++) {
                    boolean real = t >= pads;
                    ids[b * length + t] = real ? sequences[b][t - pads] : 0;
                    mask[b * length + t] = real ? 1 : 0;
                    positions[b * length + t] = real ? t - pads : 0;
                }
            }
            Variable x = model.embed(tape, new TokenBatch(batch, length, ids, null, null), null);
            Tensor keyMask = tape.allocate(batch, length);
            backend.upload(mask, keyMask);
            float[] together = backend.download(model.forward(tape, x, keyMask, positions, null, null).value());
            for (int b = 0; b < batch; b++) {
                int pads = length - sequences[b].length;
                float[] alone = backend.download(model.logits(tape, TokenBatch.of(sequences[b]), null).value());
                float[] rows = Arrays.copyOfRange(together, (b * length + pads) * vocab, (b + 1) * length * vocab);
                Compare.assertClose(alone, rows, 1e-5, fixture + " sequence " + b + " left-padded by " + pads);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tiny", "llama-tiny"})
    void sharedPositionsEqualTheDefaultAndBadOnesAreRefused(String fixture) {
        try (Backend backend = new ReferenceBackend();
             LanguageModel model = HuggingFaceCheckpoint.load(Fixtures.folder(fixture), backend);
             Workspace workspace = new Workspace(backend, "positions")) {
            Tape tape = new Tape(backend, workspace);
            int[] ids = {3, 14, 15, 9, 26, 5};
            Variable x = model.embed(tape, new TokenBatch(2, 3, ids, null, null), null);
            float[] byDefault = backend.download(model.forward(tape, x, null, null, null).value());
            float[] shared = backend.download(model.forward(tape, x, null, new int[] {0, 1, 2}, null, null).value());
            float[] perRow = backend.download(model.forward(tape, x, null, new int[] {0, 1, 2, 0, 1, 2}, null, null)
                    .value());
            assertArrayEquals(byDefault, shared, 0f);
            assertArrayEquals(byDefault, perRow, 0f);

            IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(tape, x, null, new int[] {0, 1, 2, 3}, null, null));
            assertMentions(count, "4 key positions given for 3 keys in each of 2 sequences", "give 3 (shared) or 6");
            int outside = model.contextLength();
            IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(tape, x, null, new int[] {0, 1, 2, 0, 1, outside}, null, null));
            assertMentions(range, "key position " + outside + " (sequence 1, key 2)", "outside the context [0, "
                    + outside + ")");
        }
    }
}
