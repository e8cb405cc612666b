#!/usr/bin/env python3
"""Writes promptgrad's golden fixtures: tiny random GPT-2 and Llama models as Hugging Face folders, plus the
logits, hidden states, loss, dLoss/dPrompt and 10-step AdamW and Adafactor trajectories that PyTorch computes
for a PEFT PROMPT_TUNING soft prompt on a padded batch (DESIGN.md principle 6; the pattern of llm.c's test_gpt2).

It is not a model library and imports no Hugging Face code (transformers, safetensors and peft are not
installed): GPT-2, Llama, the safetensors format and PEFT's prompt semantics are written here from their
published descriptions, and the assertions in the check_* functions test them before anything is written.
Run it with Debian's /usr/bin/python3 (torch 1.13, numpy); tools/README.md says what each file holds.
"""

import argparse
import hashlib
import json
import math
import os
import platform
import struct
import sys
import tempfile

import numpy
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # importing the sibling script must leave no __pycache__ in tools/
from optimizer_fixtures import HuggingFaceAdafactor  # noqa: E402

BASE_SEED = 1234
NUM_VIRTUAL_TOKENS = 5  # P
SEQUENCE_LENGTHS = (7, 4, 6)  # real tokens per sequence; right-padded to the longest
PAD_TOKEN_ID = 0
IGNORE_INDEX = -100
TRAJECTORY_STEPS = 10
ADAMW = {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01, "amsgrad": False}
# Lester et al. 2021's prompt-tuning Adafactor: Hugging Face's algorithm with a constant external rate.
ADAFACTOR_LESTER = {"lr": 0.3, "eps": (1e-30, 1e-3), "clip_threshold": 1.0, "decay_rate": -0.8, "beta1": None,
                    "weight_decay": 1e-5, "scale_parameter": False, "relative_step": False, "warmup_init": False}
MAX_FOLDER_BYTES = 200 * 1024

GPT2_TINY = {"vocab_size": 61, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 4,
             "layer_norm_epsilon": 1e-5}
LLAMA_TINY = {"vocab_size": 67, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": None, "rope_theta": 10000.0,
              "rms_norm_eps": 1e-6, "max_position_embeddings": 32, "tie_word_embeddings": True}
# Grouped-query attention (2 query heads share each kv head), a separate lm_head, and an explicit head_dim
# that is NOT hidden_size / num_attention_heads (16 / 4 = 4): q_proj is (heads·8, 16), o_proj (16, heads·8).
LLAMA_TINY_GQA = {"vocab_size": 67, "hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": 2,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rope_theta": 500000.0,
                  "rms_norm_eps": 1e-6, "max_position_embeddings": 32, "tie_word_embeddings": False}
# Llama 3.1's RoPE scaling. With head_dim 8 and theta 10000 the pairs' wavelengths are 6.3, 63, 628 and 6283
# positions; an original context of 64 (high_freq_factor 4: kept below 16; low_freq_factor 1: scaled above 64)
# keeps pair 0, blends pair 1 and divides pairs 2 and 3 by the factor, so every branch of the rule is used.
LLAMA_TINY_LLAMA3 = dict(LLAMA_TINY_GQA, rope_theta=10000.0, rope_scaling={
    "factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0, "original_max_position_embeddings": 64,
    "rope_type": "llama3"})


# ---------------------------------------------------------------------------------------------------------
# safetensors: 8-byte little-endian header length, JSON header, raw little-endian tensor data.

SAFETENSORS_DTYPE_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.uint8: "U8", torch.bool: "BOOL",
                           torch.int64: "I64"}
SAFETENSORS_TORCH_DTYPES = {name: dtype for dtype, name in SAFETENSORS_DTYPE_NAMES.items()}
NUMPY_DTYPES = {"F32": "<f4", "F64": "<f8", "U8": "u1", "BOOL": "?", "I64": "<i8"}


def write_atomically(path, data):
    """Writes bytes to a temporary file beside path, then renames it, so no half-written file is left."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def safetensors_bytes(tensors):
    """Serialises {name: tensor}. Data is ordered by element size (largest first), then name, so every F32
    tensor starts 4-byte aligned; offsets are relative to the first byte after the header."""
    order = sorted(tensors, key=lambda name: (-tensors[name].element_size(), name))
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name in order:
        tensor = tensors[name].detach().cpu().contiguous()
        dtype_name = SAFETENSORS_DTYPE_NAMES[tensor.dtype]
        data = tensor.numpy().astype(NUMPY_DTYPES[dtype_name], copy=False).tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


def read_safetensors(path):
    """Reads {name: tensor} and the metadata back, checking that the data regions tile the file exactly."""
    with open(path, "rb") as source:
        blob = source.read()
    (header_length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_length].decode("utf-8"))
    data = blob[8 + header_length:]
    metadata = header.pop("__metadata__", None)
    tensors = {}
    spans = []
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        spans.append((begin, end))
        array = numpy.frombuffer(data[begin:end], dtype=NUMPY_DTYPES[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.copy()).reshape(entry["shape"])
        assert tensors[name].dtype == SAFETENSORS_TORCH_DTYPES[entry["dtype"]], name
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == len(data), f"{path}: data regions do not cover the data"
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), f"{path}: gaps or overlaps between tensors"
    return tensors, metadata


def write_safetensors(path, tensors):
    write_atomically(path, safetensors_bytes(tensors))
    read_back, metadata = read_safetensors(path)
    assert metadata == {"format": "pt"}
    assert read_back.keys() == tensors.keys()
    for name, tensor in tensors.items():
        assert torch.equal(read_back[name], tensor.detach().cpu()), f"{path}: {name} did not round-trip"


def write_json(path, value, trailing_newline=True):
    text = json.dumps(value, indent=2, sort_keys=True) + ("\n" if trailing_newline else "")
    write_atomically(path, text.encode("utf-8"))


# ---------------------------------------------------------------------------------------------------------
# GPT-2 (GPT2LMHeadModel, eager attention, eval mode: no dropout).

def gelu_new(x):
    # 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def conv1d(x, weight, bias):
    # Hugging Face Conv1D: torch.addmm(bias, x.view(-1, nx), weight); weight is stored (in, out)
    return x @ weight + bias


class TinyGpt2:
    """GPT2LMHeadModel as a dict of weights under save_pretrained's names and a functional forward."""

    name_prefix = "transformer."

    def __init__(self, config, weights):
        self.config = config
        self.weights = weights

    @staticmethod
    def random(config, generator):
        vocab, positions, dim = config["vocab_size"], config["n_positions"], config["n_embd"]
        inner = 4 * dim  # n_inner null
        normal = lambda *shape, std: torch.randn(*shape, generator=generator) * std  # noqa: E731
        w = {"transformer.wte.weight": normal(vocab, dim, std=0.5),   # (vocab, dim)
             "transformer.wpe.weight": normal(positions, dim, std=0.2)}  # (n_positions, dim)
        for layer in range(config["n_layer"]):
            p = f"transformer.h.{layer}."
            w[p + "ln_1.weight"] = 1.0 + normal(dim, std=0.1)
            w[p + "ln_1.bias"] = normal(dim, std=0.1)
            w[p + "attn.c_attn.weight"] = normal(dim, 3 * dim, std=dim ** -0.5)   # (dim, 3·dim)
            w[p + "attn.c_attn.bias"] = normal(3 * dim, std=0.1)
            w[p + "attn.c_proj.weight"] = normal(dim, dim, std=dim ** -0.5)       # (dim, dim)
            w[p + "attn.c_proj.bias"] = normal(dim, std=0.1)
            w[p + "ln_2.weight"] = 1.0 + normal(dim, std=0.1)
            w[p + "ln_2.bias"] = normal(dim, std=0.1)
            w[p + "mlp.c_fc.weight"] = normal(dim, inner, std=dim ** -0.5)        # (dim, 4·dim)
            w[p + "mlp.c_fc.bias"] = normal(inner, std=0.1)
            w[p + "mlp.c_proj.weight"] = normal(inner, dim, std=inner ** -0.5)    # (4·dim, dim)
            w[p + "mlp.c_proj.bias"] = normal(dim, std=0.1)
        w["transformer.ln_f.weight"] = 1.0 + normal(dim, std=0.1)
        w["transformer.ln_f.bias"] = normal(dim, std=0.1)
        return TinyGpt2(config, w)

    def checkpoint_tensors(self):
        """The weights plus the causal-mask buffers older checkpoints carry (a reader must ignore them):
        h.N.attn.bias as a lower-triangular (1, 1, n_positions, n_positions) mask, BOOL in layer 0 and U8
        in the others, and h.N.attn.masked_bias, a zero-dimensional F32 -1e4."""
        tensors = dict(self.weights)
        positions = self.config["n_positions"]
        tril = torch.tril(torch.ones(positions, positions, dtype=torch.bool)).view(1, 1, positions, positions)
        for layer in range(self.config["n_layer"]):
            p = f"transformer.h.{layer}.attn."
            tensors[p + "bias"] = tril.clone() if layer == 0 else tril.to(torch.uint8)
            tensors[p + "masked_bias"] = torch.tensor(-1e4, dtype=torch.float32)
        return tensors

    def hf_config(self):
        c = self.config
        return {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
                "bos_token_id": c["vocab_size"] - 1, "embd_pdrop": 0.1, "eos_token_id": c["vocab_size"] - 1,
                "initializer_range": 0.02, "layer_norm_epsilon": c["layer_norm_epsilon"], "model_type": "gpt2",
                "n_ctx": c["n_positions"], "n_embd": c["n_embd"], "n_head": c["n_head"], "n_inner": None,
                "n_layer": c["n_layer"], "n_positions": c["n_positions"], "reorder_and_upcast_attn": False,
                "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
                "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
                "summary_type": "cls_index", "summary_use_proj": True, "tie_word_embeddings": True,
                "torch_dtype": "float32", "use_cache": True, "vocab_size": c["vocab_size"]}

    def peft_shape(self):
        return {"num_attention_heads": self.config["n_head"], "num_layers": self.config["n_layer"],
                "token_dim": self.config["n_embd"]}

    def hidden_size(self):
        return self.config["n_embd"]

    def to(self, dtype):
        return TinyGpt2(self.config, {k: v.to(dtype) for k, v in self.weights.items()})

    def embed(self, input_ids):
        return self.weights["transformer.wte.weight"][input_ids]  # self.wte(input_ids)

    def attention(self, x, layer, attention_mask):
        """x (batch, seq, dim): ln_1's output; attention_mask (batch, seq). Returns c_proj's output."""
        w = self.weights
        p = f"transformer.h.{layer}.attn."
        batch, seq, dim = x.shape
        heads = self.config["n_head"]
        head_size = dim // heads
        dtype = x.dtype
        # attention_mask = (1.0 - attention_mask) * torch.finfo(self.dtype).min, broadcast over heads, queries
        pad_additive = (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        causal = torch.tril(torch.ones(seq, seq, dtype=torch.bool))  # self.bias[:, :, :seq, :seq]
        qkv = conv1d(x, w[p + "c_attn.weight"], w[p + "c_attn.bias"])  # (batch, seq, 3·dim)
        q, k, v = qkv.split(dim, dim=2)
        q, k, v = (t.view(batch, seq, heads, head_size).transpose(1, 2) for t in (q, k, v))  # (b, heads, s, hs)
        scores = q @ k.transpose(-1, -2)
        scores = scores / torch.full([], head_size ** 0.5, dtype=dtype)
        # attn_weights = torch.where(causal_mask, attn_weights, mask_value); then + attention_mask
        scores = torch.where(causal, scores, torch.full([], torch.finfo(dtype).min, dtype=dtype))
        scores = scores + pad_additive
        probs = torch.softmax(scores, dim=-1)  # (batch, heads, seq, seq)
        attended = (probs @ v).transpose(1, 2).reshape(batch, seq, dim)
        return conv1d(attended, w[p + "c_proj.weight"], w[p + "c_proj.bias"])

    def forward(self, inputs_embeds, attention_mask):
        """inputs_embeds (batch, seq, dim), attention_mask (batch, seq) of 1 real / 0 pad.
        Returns logits (batch, seq, vocab), [input to block 0, output of block 0, ...], ln_f output."""
        w, c = self.weights, self.config
        _, seq, dim = inputs_embeds.shape
        position_ids = torch.arange(seq)  # torch.arange(past_length, input_shape[-1] + past_length)
        h = inputs_embeds + w["transformer.wpe.weight"][position_ids]  # (batch, seq, dim)
        hidden_states = [h]
        for layer in range(c["n_layer"]):
            p = f"transformer.h.{layer}."
            x = F.layer_norm(h, (dim,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], c["layer_norm_epsilon"])
            h = h + self.attention(x, layer, attention_mask)
            x = F.layer_norm(h, (dim,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], c["layer_norm_epsilon"])
            x = gelu_new(conv1d(x, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]))
            h = h + conv1d(x, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
            hidden_states.append(h)
        final = F.layer_norm(h, (dim,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"],
                             c["layer_norm_epsilon"])
        logits = final @ w["transformer.wte.weight"].t()  # tied lm_head
        return logits, hidden_states, final


# ---------------------------------------------------------------------------------------------------------
# Llama (LlamaForCausalLM, eager attention).

def rms_norm(x, weight, eps):
    # hidden_states.to(torch.float32); variance = hidden_states.pow(2).mean(-1, keepdim=True)
    # hidden_states * torch.rsqrt(variance + eps); self.weight * hidden_states.to(input_dtype)
    # (float64 stays float64 so that the gradcheck copy is float64 throughout)
    compute = x.to(torch.promote_types(x.dtype, torch.float32))
    variance = compute.pow(2).mean(-1, keepdim=True)
    return weight * (compute * torch.rsqrt(variance + eps)).to(x.dtype)


def inverse_frequencies(head_dim, theta, rope_scaling, dtype=torch.float32):
    """RoPE's inv_freq (head_dim / 2), in float32 as Hugging Face computes it, with rope_scaling's linear or llama3
    rule applied as transformers' _compute_linear_scaling_rope_parameters / _compute_llama3_parameters do."""
    # inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(dtype) / head_dim))
    if rope_scaling is None:
        return inv_freq
    factor = rope_scaling["factor"]
    if rope_scaling["rope_type"] == "linear":
        return inv_freq / factor
    assert rope_scaling["rope_type"] == "llama3", rope_scaling
    low, high = rope_scaling["low_freq_factor"], rope_scaling["high_freq_factor"]
    old_context = rope_scaling["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old_context / low, old_context / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rope_cos_sin(seq, head_dim, theta, rope_scaling, dtype):
    """cos, sin of shape (seq, head_dim), computed in float32 as Hugging Face does, then cast to dtype."""
    inv_freq = inverse_frequencies(head_dim, theta, rope_scaling)
    positions = torch.arange(seq, dtype=torch.int64).float()  # position_ids = cache_position.unsqueeze(0)
    freqs = positions[:, None] * inv_freq[None, :]  # (seq, head_dim / 2)
    emb = torch.cat((freqs, freqs), dim=-1)  # (seq, head_dim)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):
    # q_embed = (q * cos) + (rotate_half(q) * sin)
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, groups):
    """(batch, kv_heads, seq, hd) -> (batch, kv_heads·groups, seq, hd); query head i reads kv head i // groups."""
    batch, kv_heads, seq, head_dim = x.shape
    return x[:, :, None, :, :].expand(batch, kv_heads, groups, seq, head_dim).reshape(
        batch, kv_heads * groups, seq, head_dim)


class TinyLlama:
    """LlamaForCausalLM as a dict of weights under save_pretrained's names and a functional forward."""

    def __init__(self, config, weights, legacy_inv_freq):
        self.config = config
        self.weights = weights
        self.legacy_inv_freq = legacy_inv_freq

    def head_dim(self):
        c = self.config
        return c["head_dim"] if c["head_dim"] is not None else c["hidden_size"] // c["num_attention_heads"]

    @staticmethod
    def random(config, generator, legacy_inv_freq):
        vocab, dim, inner = config["vocab_size"], config["hidden_size"], config["intermediate_size"]
        heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
        head_dim = config["head_dim"] if config["head_dim"] is not None else dim // heads
        normal = lambda *shape, std: torch.randn(*shape, generator=generator) * std  # noqa: E731
        w = {"model.embed_tokens.weight": normal(vocab, dim, std=0.5)}  # (vocab, dim)
        for layer in range(config["num_hidden_layers"]):
            p = f"model.layers.{layer}."
            w[p + "input_layernorm.weight"] = 1.0 + normal(dim, std=0.1)
            # nn.Linear weights are (out, in)
            w[p + "self_attn.q_proj.weight"] = normal(heads * head_dim, dim, std=dim ** -0.5)
            w[p + "self_attn.k_proj.weight"] = normal(kv_heads * head_dim, dim, std=dim ** -0.5)
            w[p + "self_attn.v_proj.weight"] = normal(kv_heads * head_dim, dim, std=dim ** -0.5)
            w[p + "self_attn.o_proj.weight"] = normal(dim, heads * head_dim, std=(heads * head_dim) ** -0.5)
            w[p + "post_attention_layernorm.weight"] = 1.0 + normal(dim, std=0.1)
            w[p + "mlp.gate_proj.weight"] = normal(inner, dim, std=dim ** -0.5)
            w[p + "mlp.up_proj.weight"] = normal(inner, dim, std=dim ** -0.5)
            w[p + "mlp.down_proj.weight"] = normal(dim, inner, std=inner ** -0.5)
        w["model.norm.weight"] = 1.0 + normal(dim, std=0.1)
        if not config["tie_word_embeddings"]:
            w["lm_head.weight"] = normal(vocab, dim, std=0.5)  # (vocab, dim)
        return TinyLlama(config, w, legacy_inv_freq)

    def checkpoint_tensors(self):
        """The weights; with legacy_inv_freq also the model.layers.N.self_attn.rotary_emb.inv_freq buffers
        (F32 (head_dim / 2)) that Llama 2 era checkpoints carry and a reader must ignore."""
        tensors = dict(self.weights)
        if self.legacy_inv_freq:
            head_dim, theta = self.head_dim(), self.config["rope_theta"]
            inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
            for layer in range(self.config["num_hidden_layers"]):
                tensors[f"model.layers.{layer}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
        return tensors

    def hf_config(self):
        c = self.config
        config = {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
                  "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": c["hidden_size"],
                  "initializer_range": 0.02, "intermediate_size": c["intermediate_size"],
                  "max_position_embeddings": c["max_position_embeddings"], "mlp_bias": False,
                  "model_type": "llama", "num_attention_heads": c["num_attention_heads"],
                  "num_hidden_layers": c["num_hidden_layers"], "num_key_value_heads": c["num_key_value_heads"],
                  "pretraining_tp": 1, "rms_norm_eps": c["rms_norm_eps"], "rope_scaling": c.get("rope_scaling"),
                  "rope_theta": c["rope_theta"], "tie_word_embeddings": c["tie_word_embeddings"],
                  "torch_dtype": "float32", "use_cache": True, "vocab_size": c["vocab_size"]}
        if c["head_dim"] is not None:
            config["head_dim"] = c["head_dim"]
        return config

    def peft_shape(self):
        return {"num_attention_heads": self.config["num_attention_heads"],
                "num_layers": self.config["num_hidden_layers"], "token_dim": self.config["hidden_size"]}

    def hidden_size(self):
        return self.config["hidden_size"]

    def to(self, dtype):
        return TinyLlama(self.config, {k: v.to(dtype) for k, v in self.weights.items()}, self.legacy_inv_freq)

    def embed(self, input_ids):
        return self.weights["model.embed_tokens.weight"][input_ids]  # self.embed_tokens(input_ids)

    def attention(self, x, layer, attention_mask):
        """x (batch, seq, dim): input_layernorm's output; attention_mask (batch, seq). Returns o_proj's output."""
        w, c = self.weights, self.config
        p = f"model.layers.{layer}.self_attn."
        batch, seq, _ = x.shape
        heads, kv_heads, head_dim = c["num_attention_heads"], c["num_key_value_heads"], self.head_dim()
        dtype = x.dtype
        cos, sin = rope_cos_sin(seq, head_dim, c["rope_theta"], c.get("rope_scaling"), dtype)  # (seq, head_dim)
        # 4-D mask: 0 where a query may read a key, finfo.min where the key is in the future or padding
        allowed = torch.tril(torch.ones(seq, seq, dtype=torch.bool))[None, None] \
            & attention_mask.bool()[:, None, None, :]  # (batch, 1, seq, seq)
        additive = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        q = (x @ w[p + "q_proj.weight"].t()).view(batch, seq, heads, head_dim).transpose(1, 2)
        k = (x @ w[p + "k_proj.weight"].t()).view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        v = (x @ w[p + "v_proj.weight"].t()).view(batch, seq, kv_heads, head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = repeat_kv(k, heads // kv_heads), repeat_kv(v, heads // kv_heads)  # (batch, heads, seq, hd)
        scores = q @ k.transpose(2, 3) / math.sqrt(head_dim) + additive
        # nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        probs = torch.softmax(scores, dim=-1, dtype=torch.promote_types(dtype, torch.float32)).to(dtype)
        attended = (probs @ v).transpose(1, 2).reshape(batch, seq, heads * head_dim)
        return attended @ w[p + "o_proj.weight"].t()

    def forward(self, inputs_embeds, attention_mask):
        """inputs_embeds (batch, seq, dim), attention_mask (batch, seq) of 1 real / 0 pad.
        Returns logits (batch, seq, vocab), [input to layer 0, output of layer 0, ...], final norm output."""
        w, c = self.weights, self.config
        h = inputs_embeds
        hidden_states = [h]
        for layer in range(c["num_hidden_layers"]):
            p = f"model.layers.{layer}."
            x = rms_norm(h, w[p + "input_layernorm.weight"], c["rms_norm_eps"])
            h = h + self.attention(x, layer, attention_mask)
            x = rms_norm(h, w[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
            # self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
            gated = F.silu(x @ w[p + "mlp.gate_proj.weight"].t()) * (x @ w[p + "mlp.up_proj.weight"].t())
            h = h + gated @ w[p + "mlp.down_proj.weight"].t()
            hidden_states.append(h)
        final = rms_norm(h, w["model.norm.weight"], c["rms_norm_eps"])
        head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
        logits = final @ head.t()
        return logits, hidden_states, final


# ---------------------------------------------------------------------------------------------------------
# PEFT PROMPT_TUNING for CAUSAL_LM: prompt rows before the token embeddings, mask and labels prefixed.

def prefixed_mask_and_labels(attention_mask, labels, prompt_rows):
    batch = attention_mask.shape[0]
    # prefix_attention_mask = torch.ones(batch_size, num_virtual_tokens); torch.cat(..., dim=1)
    mask = torch.cat((torch.ones(batch, prompt_rows, dtype=attention_mask.dtype), attention_mask), dim=1)
    # prefix_labels = torch.full((batch_size, num_virtual_tokens), -100); torch.cat(..., dim=1)
    full_labels = torch.cat((torch.full((batch, prompt_rows), IGNORE_INDEX, dtype=labels.dtype), labels), dim=1)
    return mask, full_labels


def prompted_forward(model, prompt, input_ids, attention_mask):
    """prompt (P, dim); input_ids, attention_mask (batch, T). Runs the model on (batch, P+T)."""
    batch = input_ids.shape[0]
    token_embeds = model.embed(input_ids)  # inputs_embeds = self.word_embeddings(input_ids)
    prompts = prompt.unsqueeze(0).expand(batch, -1, -1)  # prompts = self.get_prompt(batch_size=batch_size)
    inputs_embeds = torch.cat((prompts, token_embeds), dim=1)  # torch.cat((prompts, inputs_embeds), dim=1)
    mask = torch.cat((torch.ones(batch, prompt.shape[0], dtype=attention_mask.dtype), attention_mask), dim=1)
    return model.forward(inputs_embeds, mask)


def causal_lm_loss(logits, full_labels):
    # shift_logits = logits[..., :-1, :]; shift_labels = labels[..., 1:]; CrossEntropyLoss() (mean, -100 ignored)
    vocab = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, vocab), full_labels[:, 1:].reshape(-1),
                           ignore_index=IGNORE_INDEX)


def prompted_loss(model, prompt, batch):
    logits, _, _ = prompted_forward(model, prompt, batch["input_ids"], batch["attention_mask"])
    _, full_labels = prefixed_mask_and_labels(batch["attention_mask"], batch["labels"], prompt.shape[0])
    return causal_lm_loss(logits, full_labels)


def random_batch(vocab, generator):
    """Right-padded token batch: input_ids, attention_mask, labels (batch, T)."""
    longest = max(SEQUENCE_LENGTHS)
    input_ids = torch.full((len(SEQUENCE_LENGTHS), longest), PAD_TOKEN_ID, dtype=torch.int64)
    attention_mask = torch.zeros((len(SEQUENCE_LENGTHS), longest), dtype=torch.int64)
    for row, length in enumerate(SEQUENCE_LENGTHS):
        input_ids[row, :length] = torch.randint(1, vocab, (length,), generator=generator)
        attention_mask[row, :length] = 1
    labels = input_ids.clone()
    labels[attention_mask == 0] = IGNORE_INDEX
    labels[:, 0] = IGNORE_INDEX  # the first token of each sequence is not a target
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


# ---------------------------------------------------------------------------------------------------------
# Checks: each one can fail, and each guards a way the implementations above could be wrong.

def check_causal(model, prompt, batch):
    """Changing a token changes logits at and after its position and leaves every earlier position alone."""
    row, column = 0, 3
    P = prompt.shape[0]
    before, _, _ = prompted_forward(model, prompt, batch["input_ids"], batch["attention_mask"])
    perturbed = batch["input_ids"].clone()
    perturbed[row, column] = 1 + perturbed[row, column] % (model.config["vocab_size"] - 1)  # another real id
    assert perturbed[row, column] != batch["input_ids"][row, column]
    after, _, _ = prompted_forward(model, prompt, perturbed, batch["attention_mask"])
    earlier = P + column
    assert torch.allclose(before[row, :earlier], after[row, :earlier], rtol=0, atol=1e-6), "future token leaked"
    assert (before[row, earlier:] - after[row, earlier:]).abs().max() > 1e-3, "perturbation had no effect"
    assert torch.equal(before[1:], after[1:]), "a change in one sequence reached another"


def check_padding(model, prompt, batch):
    """Each padded sequence's logits and hidden states at real positions equal those of the sequence run
    alone without padding (positions 0..P+len-1 in both cases)."""
    P = prompt.shape[0]
    logits, hidden, _ = prompted_forward(model, prompt, batch["input_ids"], batch["attention_mask"])
    for row, length in enumerate(SEQUENCE_LENGTHS):
        ids = batch["input_ids"][row:row + 1, :length]
        alone, alone_hidden, _ = prompted_forward(model, prompt, ids, torch.ones_like(ids))
        assert torch.allclose(logits[row:row + 1, :P + length], alone, rtol=0, atol=1e-5), f"padding row {row}"
        for padded_state, alone_state in zip(hidden, alone_hidden):
            assert torch.allclose(padded_state[row:row + 1, :P + length], alone_state, rtol=0, atol=1e-5)
    unmasked, _, _ = prompted_forward(model, prompt, batch["input_ids"], torch.ones_like(batch["input_ids"]))
    shortest = SEQUENCE_LENGTHS.index(min(SEQUENCE_LENGTHS))
    last = P + SEQUENCE_LENGTHS[shortest]
    assert (unmasked[shortest, last:] - logits[shortest, last:]).abs().max() > 1e-3, "mask had no effect"


def check_gpt2_attention_against_torch(model, attention_mask, generator):
    """Each block's attention equals torch.nn.MultiheadAttention loaded with the same weights: c_attn's
    (dim, 3·dim) transposed is in_proj_weight (rows q, k, v), c_proj's transposed is out_proj.weight."""
    dim, heads = model.config["n_embd"], model.config["n_head"]
    batch, seq = attention_mask.shape
    x = torch.randn(batch, seq, dim, generator=generator)
    for layer in range(model.config["n_layer"]):
        p = f"transformer.h.{layer}.attn."
        reference = torch.nn.MultiheadAttention(dim, heads, bias=True, batch_first=True).eval()
        with torch.no_grad():
            reference.in_proj_weight.copy_(model.weights[p + "c_attn.weight"].t())
            reference.in_proj_bias.copy_(model.weights[p + "c_attn.bias"])
            reference.out_proj.weight.copy_(model.weights[p + "c_proj.weight"].t())
            reference.out_proj.bias.copy_(model.weights[p + "c_proj.bias"])
            future = ~torch.tril(torch.ones(seq, seq, dtype=torch.bool))  # True = may not attend
            expected, _ = reference(x, x, x, attn_mask=future, key_padding_mask=attention_mask == 0,
                                    need_weights=False)
        got = model.attention(x, layer, attention_mask)
        assert torch.allclose(got, expected, rtol=0, atol=1e-5), f"GPT-2 attention of block {layer}"


def check_llama_attention_by_loops(model, attention_mask, generator):
    """Each layer's attention equals a float64 loop that rotates each (i, i + head_dim/2) pair by the angle
    position·inv_freq[i] (theta^(-2i/head_dim), scaled by rope_scaling), lets query head h read kv head
    h // (heads / kv_heads), and skips future
    and padded keys explicitly."""
    model64 = model.to(torch.float64)
    c = model.config
    heads, kv_heads, head_dim = c["num_attention_heads"], c["num_key_value_heads"], model.head_dim()
    half, groups = head_dim // 2, heads // kv_heads
    batch, seq = attention_mask.shape
    x = torch.randn(batch, seq, c["hidden_size"], generator=generator, dtype=torch.float64)

    inv_freq = inverse_frequencies(head_dim, c["rope_theta"], c.get("rope_scaling"), torch.float64)

    def rotated(vector, position):
        out = vector.clone()
        for i in range(half):
            angle = position * inv_freq[i].item()
            a, b = vector[i].item(), vector[i + half].item()
            out[i] = a * math.cos(angle) - b * math.sin(angle)
            out[i + half] = b * math.cos(angle) + a * math.sin(angle)
        return out

    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}.self_attn."
        q = (x @ model64.weights[p + "q_proj.weight"].t()).view(batch, seq, heads, head_dim)
        k = (x @ model64.weights[p + "k_proj.weight"].t()).view(batch, seq, kv_heads, head_dim)
        v = (x @ model64.weights[p + "v_proj.weight"].t()).view(batch, seq, kv_heads, head_dim)
        attended = torch.zeros(batch, seq, heads * head_dim, dtype=torch.float64)
        for b in range(batch):
            keys = [[rotated(k[b, s, g], s) for g in range(kv_heads)] for s in range(seq)]
            for t in range(seq):
                for head in range(heads):
                    query = rotated(q[b, t, head], t)
                    readable = [s for s in range(t + 1) if attention_mask[b, s] == 1]
                    scores = [(query @ keys[s][head // groups]).item() / math.sqrt(head_dim) for s in readable]
                    top = max(scores)
                    weights = [math.exp(score - top) for score in scores]
                    total = sum(weights)
                    mixed = sum(wt / total * v[b, s, head // groups] for wt, s in zip(weights, readable))
                    attended[b, t, head * head_dim:(head + 1) * head_dim] = mixed
        expected = attended @ model64.weights[p + "o_proj.weight"].t()
        got = model64.attention(x, layer, attention_mask)
        assert torch.allclose(got, expected, rtol=0, atol=1e-5), f"Llama attention of layer {layer}"


def check_rope_is_relative():
    """RoPE scores depend only on the distance m - n: <rope(q, m), rope(k, n)> = <rope(q, m+s), rope(k, n+s)>,
    and rotation keeps norms. Checked for both theta values and an even head size."""
    generator = torch.Generator().manual_seed(7)
    for theta, head_dim in ((10000.0, 4), (500000.0, 8)):
        cos, sin = rope_cos_sin(16, head_dim, theta, None, torch.float64)
        q = torch.randn(head_dim, generator=generator, dtype=torch.float64)
        k = torch.randn(head_dim, generator=generator, dtype=torch.float64)
        rotate = lambda x, at: apply_rope(x, cos[at], sin[at])  # noqa: E731
        for m, n, shift in ((5, 2, 7), (3, 3, 9), (1, 4, 11)):
            near = rotate(q, m) @ rotate(k, n)
            far = rotate(q, m + shift) @ rotate(k, n + shift)
            assert abs(near - far) < 1e-5, f"RoPE not relative at theta {theta}"
            assert abs(rotate(q, m).norm() - q.norm()) < 1e-6
        assert abs(rotate(q, 3) @ rotate(k, 1) - q @ k) > 1e-3, "RoPE rotated nothing"


def check_loss_by_hand(model, prompt, batch):
    """The loss equals -mean log p(next token) over labelled positions, computed with an explicit loop."""
    logits, _, _ = prompted_forward(model, prompt, batch["input_ids"], batch["attention_mask"])
    _, full_labels = prefixed_mask_and_labels(batch["attention_mask"], batch["labels"], prompt.shape[0])
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    terms = [-log_probs[b, t, full_labels[b, t + 1]] for b in range(logits.shape[0])
             for t in range(logits.shape[1] - 1) if full_labels[b, t + 1] != IGNORE_INDEX]
    expected_terms = sum(length - 1 for length in SEQUENCE_LENGTHS)
    assert len(terms) == expected_terms, f"{len(terms)} labelled tokens, expected {expected_terms}"
    by_hand = torch.stack(terms).mean()
    assert abs(by_hand.item() - causal_lm_loss(logits, full_labels).item()) < 1e-5, "loss differs from the loop"


def check_gradient(model, prompt, batch, prompt_grad):
    """torch.autograd.gradcheck of dLoss/dPrompt through a float64 copy of the model, and the float32
    autograd gradient against the float64 one."""
    model64 = model.to(torch.float64)
    prompt64 = prompt.detach().to(torch.float64).requires_grad_(True)
    loss_of_prompt = lambda p: prompted_loss(model64, p, batch)  # noqa: E731
    assert torch.autograd.gradcheck(loss_of_prompt, (prompt64,), eps=1e-6, atol=1e-7, rtol=1e-5)
    (grad64,) = torch.autograd.grad(loss_of_prompt(prompt64), prompt64)
    scale = grad64.abs().max().item()
    assert scale > 1e-3, "gradient vanished: the fixture would not test anything"
    assert (prompt_grad.double() - grad64).abs().max().item() < 1e-4 * max(scale, 1.0), "float32 gradient drifted"


# ---------------------------------------------------------------------------------------------------------
# Fixture folders.

def adapter_config(model_name, peft_shape):
    """PEFT 0.x PromptTuningConfig.to_dict() for CAUSAL_LM with RANDOM init (PeftConfigMixin, PeftConfig,
    PromptLearningConfig and PromptTuningConfig fields), written as PEFT does: indent 2, sorted keys."""
    return {"auto_mapping": None, "base_model_name_or_path": model_name, "inference_mode": True,
            "num_attention_heads": peft_shape["num_attention_heads"], "num_layers": peft_shape["num_layers"],
            "num_transformer_submodules": 1, "num_virtual_tokens": NUM_VIRTUAL_TOKENS,
            "peft_type": "PROMPT_TUNING", "prompt_tuning_init": "RANDOM", "prompt_tuning_init_text": None,
            "revision": None, "task_type": "CAUSAL_LM", "token_dim": peft_shape["token_dim"],
            "tokenizer_kwargs": None, "tokenizer_name_or_path": None}


def train_trajectory(model, prompt, batch, make_optimizer):
    """TRAJECTORY_STEPS of an optimizer on the prompt alone: loss before each step, prompt after each step."""
    trained = prompt.detach().clone().requires_grad_(True)
    optimizer = make_optimizer(trained)
    losses, prompts = [], []
    for _ in range(TRAJECTORY_STEPS):
        optimizer.zero_grad()
        loss = prompted_loss(model, trained, batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach().clone())
        prompts.append(trained.detach().clone())
    return torch.stack(losses), torch.stack(prompts)


def adamw(prompt):
    return torch.optim.AdamW([prompt], lr=ADAMW["lr"], betas=ADAMW["betas"], eps=ADAMW["eps"],
                             weight_decay=ADAMW["weight_decay"], amsgrad=ADAMW["amsgrad"], foreach=False)


def adafactor_lester(prompt):
    # transformers.optimization.Adafactor(params, lr=0.3, scale_parameter=False, relative_step=False,
    #     warmup_init=False, decay_rate=-0.8, clip_threshold=1.0, weight_decay=1e-5), re-written in
    #     tools/optimizer_fixtures.py because transformers is not installed
    settings = ADAFACTOR_LESTER
    return HuggingFaceAdafactor([prompt], lr=settings["lr"], eps=settings["eps"],
                                clip_threshold=settings["clip_threshold"], decay_rate=settings["decay_rate"],
                                beta1=settings["beta1"], weight_decay=settings["weight_decay"],
                                scale_parameter=settings["scale_parameter"])


def script_sha256():
    with open(os.path.abspath(__file__), "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def write_fixture(out_root, name, model, seed, generator):
    """Draws the batch and prompt, runs every check, computes the golden values and writes the folder."""
    folder = os.path.join(out_root, name)
    for weight in model.weights.values():
        weight.requires_grad_(False)
    batch = random_batch(model.config["vocab_size"], generator)
    prompt = torch.randn(NUM_VIRTUAL_TOKENS, model.hidden_size(), generator=generator) * 0.5  # (P, dim)

    full_mask, full_labels = prefixed_mask_and_labels(batch["attention_mask"], batch["labels"], NUM_VIRTUAL_TOKENS)
    check_generator = torch.Generator().manual_seed(seed + 100)
    if isinstance(model, TinyGpt2):
        check_gpt2_attention_against_torch(model, full_mask, check_generator)
    else:
        check_llama_attention_by_loops(model, full_mask, check_generator)
    check_causal(model, prompt, batch)
    check_padding(model, prompt, batch)
    check_loss_by_hand(model, prompt, batch)

    attached = prompt.clone().requires_grad_(True)
    logits, hidden, final = prompted_forward(model, attached, batch["input_ids"], batch["attention_mask"])
    loss = causal_lm_loss(logits, full_labels)
    (prompt_grad,) = torch.autograd.grad(loss, attached)
    check_gradient(model, prompt, batch, prompt_grad)
    trajectory_losses, trajectory_prompts = train_trajectory(model, prompt, batch, adamw)
    assert trajectory_losses[0].item() == loss.item(), "trajectory does not start at the golden loss"
    assert trajectory_losses[-1] < trajectory_losses[0], "AdamW did not lower the loss"
    adafactor_losses, adafactor_prompts = train_trajectory(model, prompt, batch, adafactor_lester)
    assert adafactor_losses[0].item() == loss.item(), "Adafactor trajectory does not start at the golden loss"
    assert adafactor_losses[-1] < adafactor_losses[0], "Adafactor did not lower the loss"

    write_json(os.path.join(folder, "config.json"), model.hf_config())
    write_safetensors(os.path.join(folder, "model.safetensors"), model.checkpoint_tensors())
    golden = {"prompt": prompt,                                  # (P, dim)
              "logits": logits.detach(),                         # (batch, P+T, vocab)
              "hidden_states": torch.stack(hidden).detach(),     # (layers+1, batch, P+T, dim)
              "final_hidden": final.detach(),                    # (batch, P+T, dim)
              "loss": loss.detach().reshape(1),                  # (1)
              "prompt_grad": prompt_grad,                        # (P, dim)
              "trajectory_losses": trajectory_losses,            # (steps)
              "trajectory_prompts": trajectory_prompts,          # (steps, P, dim)
              "trajectory_adafactor_losses": adafactor_losses,   # (steps)
              "trajectory_adafactor_prompts": adafactor_prompts}  # (steps, P, dim)
    write_safetensors(os.path.join(folder, "golden.safetensors"), golden)
    write_json(os.path.join(folder, "golden.json"), {
        "model": name,
        "seed": seed,
        "P": NUM_VIRTUAL_TOKENS,
        "pad_token_id": PAD_TOKEN_ID,
        "lengths": list(SEQUENCE_LENGTHS),
        "input_ids": batch["input_ids"].tolist(),
        "attention_mask": batch["attention_mask"].tolist(),
        "labels": batch["labels"].tolist(),
        "model_attention_mask": full_mask.tolist(),
        "model_labels": full_labels.tolist(),
        "position_ids": list(range(NUM_VIRTUAL_TOKENS + max(SEQUENCE_LENGTHS))),
        "labelled_tokens": int((full_labels[:, 1:] != IGNORE_INDEX).sum()),
        "loss": float(loss.item()),
        "optimizer": {"name": "AdamW", "lr": ADAMW["lr"], "betas": list(ADAMW["betas"]), "eps": ADAMW["eps"],
                      "weight_decay": ADAMW["weight_decay"], "amsgrad": ADAMW["amsgrad"],
                      "steps": TRAJECTORY_STEPS},
        "optimizer_adafactor": {"name": "Adafactor", "lr": ADAFACTOR_LESTER["lr"],
                                "eps": list(ADAFACTOR_LESTER["eps"]),
                                "clip_threshold": ADAFACTOR_LESTER["clip_threshold"],
                                "decay_rate": ADAFACTOR_LESTER["decay_rate"], "beta1": ADAFACTOR_LESTER["beta1"],
                                "weight_decay": ADAFACTOR_LESTER["weight_decay"],
                                "scale_parameter": ADAFACTOR_LESTER["scale_parameter"],
                                "relative_step": ADAFACTOR_LESTER["relative_step"],
                                "warmup_init": ADAFACTOR_LESTER["warmup_init"], "steps": TRAJECTORY_STEPS},
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "python_version": platform.python_version(),
        "script": "tools/golden_fixtures.py",
        "script_sha256": script_sha256(),
    })
    write_json(os.path.join(folder, "adapter", "adapter_config.json"),
               adapter_config(name, model.peft_shape()), trailing_newline=False)
    write_safetensors(os.path.join(folder, "adapter", "adapter_model.safetensors"), {"prompt_embeddings": prompt})

    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(folder) for f in files)
    assert size < MAX_FOLDER_BYTES, f"{folder} is {size} bytes"
    print(f"{name}: loss {loss.item():.6f} -> {trajectory_losses[-1].item():.6f} (AdamW), "
          f"{adafactor_losses[-1].item():.6f} (Adafactor) after {TRAJECTORY_STEPS} steps, "
          f"|dPrompt|max {prompt_grad.abs().max().item():.4g}, logits std {logits.std().item():.3f}, "
          f"{size} bytes")


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(repo_root, "models", "src", "test", "resources", "fixtures"),
                        help="folder that receives one sub-folder per model (default: the committed fixtures)")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(BASE_SEED)
    check_rope_is_relative()

    builders = (("gpt2-tiny", lambda g: TinyGpt2.random(GPT2_TINY, g)),
                ("llama-tiny", lambda g: TinyLlama.random(LLAMA_TINY, g, legacy_inv_freq=True)),
                ("llama-tiny-gqa", lambda g: TinyLlama.random(LLAMA_TINY_GQA, g, legacy_inv_freq=False)),
                ("llama-tiny-llama3", lambda g: TinyLlama.random(LLAMA_TINY_LLAMA3, g, legacy_inv_freq=False)))
    for index, (name, build) in enumerate(builders):
        seed = BASE_SEED + index
        generator = torch.Generator().manual_seed(seed)
        write_fixture(args.out, name, build(generator), seed, generator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
