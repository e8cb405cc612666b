package dev.promptgrad.tensor;

import dev.promptgrad.backend.ReferenceBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The workspace's stack-order rewinding: temporaries share memory, earlier tensors survive, resets size for the peak. */
class WorkspaceTest {

    @Test
    void rewindingReusesTheMemoryOfTensorsAllocatedAfterTheMark() {
        try (ReferenceBackend backend = new ReferenceBackend();
             Workspace workspace = new Workspace(backend, "rewind")) {
            Tensor kept = workspace.allocate(4);
            backend.upload(new float[]{1, 2, 3, 4}, kept);
            Workspace.Mark mark = workspace.mark();
            Tensor temporary = workspace.allocate(100);
            backend.fill(temporary, 7);
            workspace.rewind(mark);
            Tensor next = workspace.allocate(100);
            assertEquals(temporary.offset(), next.offset(), "the next tensor takes the rewound one's place");
            assertEquals(temporary.buffer(), next.buffer());
            assertArrayEquals(new float[]{1, 2, 3, 4}, backend.download(kept), "a tensor before the mark is untouched");
        }
    }

    @Test
    void aResetMergesChunksIntoOneSizedForThePeakNotTheTotal() {
        try (ReferenceBackend backend = new ReferenceBackend();
             Workspace workspace = new Workspace(backend, "peak")) {
            int big = 3 << 20;   // elements; bigger than one minimum chunk
            for (int step = 0; step < 3; step++) {
                for (int op = 0; op < 4; op++) {   // four ops, each with one big temporary
                    Workspace.Mark mark = workspace.mark();
                    workspace.allocate(big);
                    workspace.rewind(mark);
                }
                workspace.allocate(10);
                workspace.reset();
            }
            assertEquals(1, workspace.allocations(), "one chunk, reused by every op and step");
            assertTrue(workspace.bytes() < 2L * big * 4, "the chunk holds the peak (one temporary), not all four: "
                    + workspace.bytes() + " bytes");
        }
    }

    @Test
    void rewindingOutOfOrderOrToAnotherWorkspaceFails() {
        try (ReferenceBackend backend = new ReferenceBackend();
             Workspace workspace = new Workspace(backend, "order");
             Workspace other = new Workspace(backend, "other")) {
            Workspace.Mark outer = workspace.mark();
            workspace.allocate(8);
            Workspace.Mark inner = workspace.mark();
            workspace.allocate(8);
            workspace.rewind(outer);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> workspace.rewind(inner));
            assertTrue(e.getMessage().contains("workspace 'order'"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> other.rewind(outer));
        }
    }
}
