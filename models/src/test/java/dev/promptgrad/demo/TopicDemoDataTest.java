package dev.promptgrad.demo;

import dev.promptgrad.embedding.EncoderData;
import dev.promptgrad.embedding.LabelledText;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo's shipped texts: five topics, 36 to train on and 24 held out each, no text twice. */
class TopicDemoDataTest {

    @Test
    void fiveTopicsSplitSixtyFortyWithNoTextInBothSets() {
        EncoderData<LabelledText> data = TopicDemo.data();
        assertEquals(180, data.train().size());
        assertEquals(120, data.eval().size());
        for (List<LabelledText> set : List.of(data.train(), data.eval())) {
            Map<String, Integer> perTopic = new TreeMap<>();
            for (LabelledText example : set) perTopic.merge(example.label(), 1, Integer::sum);
            int expected = set == data.train() ? 36 : 24;
            assertEquals(Map.of("cooking", expected, "health", expected, "sports", expected, "technology", expected,
                    "travel", expected), perTopic);
        }
        Set<String> texts = new HashSet<>();
        for (List<LabelledText> set : List.of(data.train(), data.eval())) {
            for (LabelledText example : set) {
                assertTrue(texts.add(example.text()), "'" + example.text() + "' appears twice");
                assertTrue(example.text().length() <= 80, "short texts: " + example.text());
            }
        }
    }
}
