package dev.promptgrad.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checks that an error message says what it must, showing the whole message when it does not. Test code only. */
public final class Messages {

    private Messages() {
    }

    /** Fails unless {@code error}'s message contains every fragment. */
    public static void assertMentions(Throwable error, String... fragments) {
        String message = String.valueOf(error.getMessage());
        for (String fragment : fragments) {
            assertTrue(message.contains(fragment), "the message does not mention \"" + fragment + "\": " + message);
        }
    }
}
