"""Writes the seed inputs of the Jazzer fuzz targets (docs/fuzzing.md): small valid files of every format promptgrad
reads, from the committed fixtures or built here byte by byte, into each target's Inputs folder under
src/test/resources. The fuzzer mutates them; in regression mode (plain `mvn test`) each is read once. Inputs the
fuzzer found (crash-*, timeout-*) live beside them and are never touched by this script. Standard library only."""

import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "models/src/test/resources/fixtures")


def target(module, package, test_class, method):
    folder = os.path.join(ROOT, module, "src/test/resources/dev/promptgrad", package, test_class + "Inputs", method)
    os.makedirs(folder, exist_ok=True)
    return folder


def write(folder, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = os.path.join(folder, "seed-" + name)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def fixture(*parts):
    with open(os.path.join(FIXTURES, *parts), "rb") as f:
        return f.read()


def joined(first, second):
    """The two-part input of HostileInput.split: int32 length of the first part, the first part, the second."""
    return struct.pack("<i", len(first)) + first + second


def safetensors(tensors, metadata=None):
    """A safetensors file from (name, dtype, shape, raw bytes) in order, tiling the data region."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def floats(*values):
    return struct.pack("<%df" % len(values), *values)


def llama2c_checkpoint(dim=8, hidden=12, layers=1, heads=2, kv_heads=1, vocab=6, seq_len=4):
    head = dim // heads
    kv = kv_heads * head
    count = (vocab * dim + layers * dim + layers * dim * dim + 2 * layers * dim * kv + layers * dim * dim
             + layers * dim + 3 * layers * hidden * dim + dim + seq_len * head)
    values = [((i * 37) % 17 - 8) / 16.0 for i in range(count)]
    return struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq_len) + floats(*values)


def llama2c_tokenizer():
    pieces = [(0.0, "<unk>"), (0.0, "\n<s>\n"), (0.0, "\n</s>\n")]
    pieces += [(0.0, "<0x%02X>" % b) for b in (0x0A, 0x20, 0xC3, 0xA9)]
    words = [" ", "a", "b", "l", "o", "h", "e", "w", "r", "d", "he", "ll", "llo", "hello", " w", " wor", " world"]
    pieces += [(-float(i), text) for i, text in enumerate(words)]
    body = b"".join(struct.pack("<fi", score, len(text.encode())) + text.encode() for score, text in pieces)
    return struct.pack("<i", max(len(t.encode()) for _, t in pieces)) + body


def protobuf_varint(value):
    out = b""
    while value > 0x7F:
        out += bytes([(value & 0x7F) | 0x80])
        value >>= 7
    return out + bytes([value])


def protobuf_field(number, wire_type, payload):
    """One field: a varint (wire type 0) or fixed32 (5) already encoded, or a length-delimited (2) payload."""
    tag = protobuf_varint(number << 3 | wire_type)
    return tag + (protobuf_varint(len(payload)) + payload if wire_type == 2 else payload)


def sentencepiece_model():
    """A SentencePiece BPE tokenizer.model (sentencepiece_model.proto): byte fallback, a user-defined piece."""
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    pieces += [("<0x%02X>" % b, 0.0, 6) for b in range(256)]
    words = ["\u2581h", "\u2581w", "ll", "or", "\u2581he", "llo", "\u2581hello", "\u2581wor", "\u2581world", "\u2581",
             "h", "e", "l", "o", "w", "r", "d"]
    pieces += [(text, -float(i), 1) for i, text in enumerate(words)]
    pieces += [("<sep>", 0.0, 4)]
    body = b""
    for text, score, kind in pieces:
        piece = (protobuf_field(1, 2, text.encode()) + protobuf_field(2, 5, struct.pack("<f", score))
                 + protobuf_field(3, 0, protobuf_varint(kind)))
        body += protobuf_field(1, 2, piece)
    trainer = protobuf_field(3, 0, protobuf_varint(2)) + protobuf_field(35, 0, protobuf_varint(1))
    normalizer = (protobuf_field(1, 2, b"identity") + protobuf_field(3, 0, protobuf_varint(1))
                  + protobuf_field(4, 0, protobuf_varint(0)))
    return body + protobuf_field(2, 2, trainer) + protobuf_field(3, 2, normalizer)


def bpe_tokenizer_json(byte_level):
    if byte_level:
        alphabet = ["Ġ", "h", "e", "l", "o", "w", "r", "d", "1", "2"]
        merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "Ġwor l", "Ġworl d"]
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
        normalizer, decoder = None, {"type": "ByteLevel"}
        added = [{"id": 100, "content": "<|endoftext|>", "special": True, "lstrip": False, "rstrip": False,
                  "single_word": False, "normalized": False}]
    else:
        alphabet = ["▁", "h", "e", "l", "o", "w", "r", "d", "<unk>", "<s>", "</s>", "<0x31>", "<0xC3>", "<0xA9>"]
        merges = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["▁", "hello"], ["▁", "w"], ["o", "r"]]
        pre = None
        normalizer = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
        decoder = {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
        added = [{"id": 1, "content": "<s>", "special": True, "lstrip": False, "rstrip": False,
                  "single_word": False, "normalized": False}]
    vocab = {}
    for piece in alphabet:
        vocab.setdefault(piece, len(vocab))
    for merge in merges:
        left, right = merge.split(" ") if isinstance(merge, str) else merge
        vocab.setdefault(left + right, len(vocab))
    if byte_level:
        vocab["<|endoftext|>"] = 100
        for i in range(len(vocab) - 1, 100):
            vocab["<pad%d>" % i] = i
    model = {"type": "BPE", "dropout": None, "unk_token": None if byte_level else "<unk>",
             "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": not byte_level,
             "byte_fallback": not byte_level, "vocab": vocab, "merges": merges}
    document = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
                "normalizer": normalizer, "pre_tokenizer": pre,
                "post_processor": {"type": "TemplateProcessing", "single": [
                    {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "pair": [], "special_tokens": {}} if not byte_level else None,
                "decoder": decoder, "model": model}
    return json.dumps(document, ensure_ascii=False, indent=1)


def wordpiece_tokenizer_json():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "wo", "##rld", "##llo", "he", "1", "##2", "!"]
    specials = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                 "normalized": False, "special": True} for i, t in enumerate(vocab[:4])]
    document = {"version": "1.0", "truncation": {"direction": "Right", "max_length": 16, "strategy": "LongestFirst",
                                                 "stride": 0},
                "padding": {"strategy": "BatchLongest", "direction": "Right", "pad_to_multiple_of": None,
                            "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"},
                "added_tokens": specials,
                "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                               "strip_accents": None, "lowercase": True},
                "pre_tokenizer": {"type": "BertPreTokenizer"},
                "post_processor": {"type": "TemplateProcessing",
                                   "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                              {"Sequence": {"id": "A", "type_id": 0}},
                                              {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                                   "pair": [],
                                   "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                                                      "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
                "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
                "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                          "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}}}
    return json.dumps(document, indent=1)


def main():
    json_target = target("core", "json", "JsonFuzzTest", "parse")
    write(json_target, "config", fixture("gpt2-tiny", "config.json"))
    write(json_target, "wordpiece", wordpiece_tokenizer_json())
    write(json_target, "numbers", '[0, -0.0, 1e308, -1.5E-7, 12345678901234567890, "\\ud83d\\ude00", true, null]')

    a = ("a", "F32", [2, 2], floats(1, 2, 3, 4))
    b = ("b", "F32", [2], floats(5, 6))
    file_target = target("core", "safetensors", "SafetensorsFuzzTest", "file")
    write(file_target, "f32", safetensors([a, b], {"format": "pt"}))
    write(file_target, "mixed", safetensors([("h", "F16", [2], struct.pack("<2e", 1.5, -2.0)),
                                             ("bf", "BF16", [1, 2], b"\x80\x3f\x00\xc0"),
                                             ("ids", "I64", [3], struct.pack("<3q", 1, -2, 3)),
                                             ("flags", "BOOL", [2], b"\x01\x00"),
                                             ("empty", "F32", [0, 4], b"")]))
    write(file_target, "adapter", fixture("gpt2-tiny", "adapter", "adapter_model.safetensors"))
    index_target = target("core", "safetensors", "SafetensorsFuzzTest", "shardIndex")
    write(index_target, "index", json.dumps({"metadata": {"total_size": 24}, "weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}, indent=2))

    folder_target = target("models", "checkpoint", "CheckpointFuzzTest", "huggingFaceFolder")
    for name in ("gpt2-tiny", "llama-tiny", "llama-tiny-gqa"):
        write(folder_target, name, joined(fixture(name, "config.json"), fixture(name, "model.safetensors")))
    llama2c_target = target("models", "checkpoint", "CheckpointFuzzTest", "llama2c")
    write(llama2c_target, "shared-head", llama2c_checkpoint())
    write(llama2c_target, "own-head", llama2c_checkpoint(vocab=-6)[:28] + llama2c_checkpoint()[28:]
          + floats(*[0.25] * (6 * 8)))

    json_tokenizer = target("models", "tokenizer", "TokenizerFuzzTest", "tokenizerJson")
    write(json_tokenizer, "byte-level", bpe_tokenizer_json(True))
    write(json_tokenizer, "sentencepiece", bpe_tokenizer_json(False))
    write(json_tokenizer, "wordpiece", wordpiece_tokenizer_json())
    write(target("models", "tokenizer", "TokenizerFuzzTest", "tokenizerBin"), "tiny", llama2c_tokenizer())
    write(target("models", "tokenizer", "TokenizerFuzzTest", "tokenizerModel"), "bpe", sentencepiece_model())

    write(target("models", "encoder", "OnnxBertFuzzTest", "graph"), "bert-tiny", fixture("bert-tiny", "model.onnx"))

    write(target("models", "prompt", "PeftAdapterFuzzTest", "adapter"), "gpt2-tiny",
          joined(fixture("gpt2-tiny", "adapter", "adapter_config.json"),
                 fixture("gpt2-tiny", "adapter", "adapter_model.safetensors")))

    kobold = target("models", "prompt", "SoftPromptFileFuzzTest", "koboldZip")
    write(kobold, "deflated", fixture("soft-prompts", "kobold-deflated.zip"))
    write(kobold, "lzma", fixture("soft-prompts", "kobold-lzma.zip"))
    npy = target("models", "prompt", "SoftPromptFileFuzzTest", "npy")
    for name in ("lester-f32", "f16", "bf16-v2"):
        write(npy, name, fixture("soft-prompts", name + ".npy"))

    write(target("models", "data", "JsonlFuzzTest", "jsonl"), "forms",
          '{"input": "hello", "output": " world"}\n\n{"text": "abc def"}\r\n'
          '{"input_ids": [1, 4, 5], "labels": [-100, 4, 5]}\n{"input_ids": [7]}\n')
    return 0


if __name__ == "__main__":
    sys.exit(main())
