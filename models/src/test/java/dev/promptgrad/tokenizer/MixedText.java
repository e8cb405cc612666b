package dev.promptgrad.tokenizer;

import java.util.Locale;
import java.util.Random;

/**
 * A seeded generator of hard text for comparing encoders: English prose with contractions in every case, many
 * scripts, emoji with skin tones, flags and ZWJ sequences, combining marks, odd whitespace (tabs, CRLF, NBSP,
 * U+0085, U+2028, long runs), numbers and source code. Deterministic for a seed; not meant to be readable.
 */
final class MixedText {
    private static final String[] WORDS = ("the of and to a in is it you that he was for on are with as I his they be at one"
            + " have this from or had by hot word but what some we can out other were all there when up use your how said"
            + " an each she which do their time if will way about many then them write would like so these her long make"
            + " thing see him two has look more day could go come did number sound no most people my over know water than"
            + " call first who may down side been now find Tokenizer BPE GPT-2 llama HuggingFace JSON naïve café résumé"
            + " coöperate façade Zürich São_Paulo x86_64 e-mail re-enter well-known O'Neil").split(" ");
    private static final String[] CONTRACTIONS = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE",
            "'M", "'LL", "'D", "'Ll", "'rE", "’s", "’ll"};
    private static final String[] SCRIPTS = {
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "Ταχίστη αλώπηξ βαφής ψημένη γη, δρασκελίζει υπέρ νωθρού κυνός.",
        "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
        "עטלף אבק נס דרך מזגן שהתפוצץ כי חם",
        "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
        "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
        "我能吞下玻璃而不伤身体。天地玄黄，宇宙洪荒。",
        "いろはにほへと ちりぬるを わかよたれそ つねならむ カタカナ",
        "다람쥐 헌 쳇바퀴에 타고파 키스의 고유조건은 입술끼리 만나야",
        "Pchnąć w tę łódź jeża lub ośm skrzyń fig. Příliš žluťoučký kůň úpěl ďábelské ódy.",
        "Árvíztűrő tükörfúrógép — „idézőjel” «guillemets» ‹single› ‘quotes’",
        "ქართული ენა Հայերեն լեզու ᎠᏂᏴᏫᏯ ᚠᛇᚻ᛫ᛒᛦᚦ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 ①②③ ٣٤٥ ߁߂",
        "e\u0301 a\u0308 n\u0303 Z\u0351\u0358\u0360a\u0363\u0364l\u0367g\u0369o \u200B\u200C\u200D\uFEFF soft\u00ADhyphen",
    };
    private static final String[] EMOJI = {"😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵", "❤️", "🧑🏿‍💻", "👩‍❤️‍💋‍👨",
            "🫠", "☕", "✌🏻", "🐈‍⬛", "1️⃣", "#️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"};
    private static final String[] SPACES = {" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\u00A0",
            "\u0085", "\u2028", "\u3000", "\u2009", "          ", "\n\n\n\n", " \t \n", "\u000B", "\f"};
    private static final String[] CODE = {
        "public static int[] encode(String text) { return ids.build().toArray(); }\n",
        "def f(x):\n    return {'a': x**2, \"b\": [1, 2, 3]}  # comment\n",
        "for (int i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}\n",
        "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son';\n",
        "<div class=\"x\">&nbsp;&lt;tag&gt;</div>\n",
        "x = 0x7fffffff; y = 3.14159e-10; z = -42; w = 1_000_000;\n",
        "    if (a != b && c || !d) throw new IllegalStateException(\"bad: \" + a);\n",
        "$ echo $HOME | grep -E '^/(usr|home)/' >> /dev/null 2>&1\n",
    };

    private MixedText() {
    }

    /** At least {@code minChars} chars of mixed text from {@code seed}. */
    static String generate(long seed, int minChars) {
        Random random = new Random(seed);
        StringBuilder text = new StringBuilder(minChars + 1024);
        while (text.length() < minChars) {
            switch (random.nextInt(10)) {
                case 0, 1, 2, 3 -> sentence(random, text);
                case 4 -> text.append(SCRIPTS[random.nextInt(SCRIPTS.length)]);
                case 5 -> {
                    for (int i = random.nextInt(4); i >= 0; i--) text.append(EMOJI[random.nextInt(EMOJI.length)]);
                }
                case 6 -> text.append(SPACES[random.nextInt(SPACES.length)]);
                case 7 -> number(random, text);
                case 8 -> text.append(CODE[random.nextInt(CODE.length)]);
                default -> {
                    String word = WORDS[random.nextInt(WORDS.length)];
                    text.append(random.nextBoolean() ? word.toUpperCase(Locale.ROOT) : word)
                            .append(CONTRACTIONS[random.nextInt(CONTRACTIONS.length)]);
                }
            }
            if (random.nextInt(3) == 0) text.append(SPACES[random.nextInt(SPACES.length)]);
            else text.append(' ');
        }
        return text.toString();
    }

    private static void sentence(Random random, StringBuilder text) {
        int words = 3 + random.nextInt(15);
        for (int i = 0; i < words; i++) {
            String word = WORDS[random.nextInt(WORDS.length)];
            if (i == 0) word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
            text.append(word);
            if (random.nextInt(12) == 0) text.append(CONTRACTIONS[random.nextInt(CONTRACTIONS.length)]);
            if (random.nextInt(10) == 0) text.append(",;:".charAt(random.nextInt(3)));
            if (i + 1 < words) text.append(' ');
        }
        text.append(".!?…".charAt(random.nextInt(4)));
    }

    private static void number(Random random, StringBuilder text) {
        switch (random.nextInt(4)) {
            case 0 -> text.append(random.nextInt(10));
            case 1 -> text.append(Math.abs(random.nextLong()));
            case 2 -> text.append(String.format(Locale.ROOT, "%.4f", random.nextDouble() * 1000));
            default -> text.append(random.nextInt(100)).append('%').append(" 2024-0").append(1 + random.nextInt(9));
        }
    }
}
