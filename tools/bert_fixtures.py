#!/usr/bin/env python3
"""Writes promptgrad's BERT golden fixtures: a tiny random BERT as a Hugging Face / sentence-transformers folder
(config.json, model.safetensors, modules.json, 1_Pooling/config.json) and as an ONNX file exported from the same
weights, plus the pooled sentence embeddings and, for a 3-row soft prompt placed before or after [CLS], the loss
(cosine similarity to a fixed target) and dLoss/dPrompt that PyTorch computes (DESIGN.md principle 6).

It also holds what tools/minilm_reference.py reuses: the BERT forward in plain torch (HF BertModel's module
tree, so that torch.onnx.export names initializers and nodes as Hugging Face's export does) and a small numpy
evaluator of the ONNX operators such an export uses, which checks every exported graph against torch.
transformers, sentence-transformers, peft and onnxruntime are not used. Run with Debian's /usr/bin/python3
(python3-torch 1.13, python3-numpy, python3-onnx); tools/README.md says what each file holds.
"""

import argparse
import hashlib
import io
import math
import os
import platform
import sys

import numpy
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F

from golden_fixtures import write_atomically, write_json, write_safetensors, read_safetensors

BASE_SEED = 4321
NUM_VIRTUAL_TOKENS = 3  # P
SEQUENCE_LENGTHS = (7, 4, 6)  # tokens per sequence, [CLS] and [SEP]s included; right-padded to the longest
CLS_ID, SEP_ID, PAD_ID = 2, 3, 0
MAX_FOLDER_BYTES = 200 * 1024

TINY_BERT = {"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
             "intermediate_size": 40, "max_position_embeddings": 24, "type_vocab_size": 2,
             "layer_norm_eps": 1e-12, "hidden_act": "gelu", "pad_token_id": PAD_ID}


# ---------------------------------------------------------------------------------------------------------
# BERT (HF BertModel in eval mode: no dropout). Module and parameter names are Hugging Face's.

class BertEmbeddings(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = torch.nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = torch.nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = torch.nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.register_buffer("position_ids", torch.arange(c["max_position_embeddings"]).expand((1, -1)))

    def forward(self, inputs_embeds, token_type_ids, position_ids):
        # HF: embeddings = inputs_embeds + token_type_embeddings + position_embeddings; LayerNorm(embeddings)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.LayerNorm(embeddings)


class BertSelfAttention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads = c["num_attention_heads"]
        self.head_size = c["hidden_size"] // self.heads
        self.query = torch.nn.Linear(c["hidden_size"], c["hidden_size"])
        self.key = torch.nn.Linear(c["hidden_size"], c["hidden_size"])
        self.value = torch.nn.Linear(c["hidden_size"], c["hidden_size"])

    def by_head(self, x):
        return x.view(x.size(0), x.size(1), self.heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask):
        q, k, v = self.by_head(self.query(x)), self.by_head(self.key(x)), self.by_head(self.value(x))
        # HF: attention_scores = q @ k.T / sqrt(head_size) + extended_attention_mask
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size) + additive_mask
        probs = torch.softmax(scores, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return context.view(x.size(0), x.size(1), self.heads * self.head_size)


class BertResidualOutput(torch.nn.Module):
    """BertSelfOutput and BertOutput: LayerNorm(dense(h) + input), the post-LayerNorm residual."""

    def __init__(self, inner, c):
        super().__init__()
        self.dense = torch.nn.Linear(inner, c["hidden_size"])
        self.LayerNorm = torch.nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class BertAttention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        setattr(self, "self", BertSelfAttention(c))  # HF's attribute name: encoder.layer.N.attention.self.query
        self.output = BertResidualOutput(c["hidden_size"], c)

    def forward(self, x, additive_mask):
        return self.output(getattr(self, "self")(x, additive_mask), x)


class BertIntermediate(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = torch.nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))  # hidden_act "gelu": the exact, erf form


class BertLayer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertResidualOutput(c["intermediate_size"], c)

    def forward(self, x, additive_mask):
        attended = self.attention(x, additive_mask)
        return self.output(self.intermediate(attended), attended)


class BertEncoder(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = torch.nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, h, additive_mask):
        for layer in self.layer:
            h = layer(h, additive_mask)
        return h


class BertPooler(torch.nn.Module):
    """Kept only because Hugging Face checkpoints carry pooler.dense; sentence embeddings do not use it."""

    def __init__(self, c):
        super().__init__()
        self.dense = torch.nn.Linear(c["hidden_size"], c["hidden_size"])


class Bert(torch.nn.Module):
    """HF BertModel's forward up to last_hidden_state. forward() takes ids (what torch.onnx.export traces);
    encode() takes inputs_embeds and explicit position ids (what a soft prompt needs)."""

    def __init__(self, c):
        super().__init__()
        self.config = dict(c)
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def encode(self, inputs_embeds, attention_mask, token_type_ids, position_ids):
        # HF get_extended_attention_mask: (1.0 - mask[:, None, None, :]) * torch.finfo(dtype).min
        mask = attention_mask[:, None, None, :].to(inputs_embeds.dtype)
        additive = (1.0 - mask) * torch.finfo(inputs_embeds.dtype).min
        return self.encoder(self.embeddings(inputs_embeds, token_type_ids, position_ids), additive)

    def forward(self, input_ids, attention_mask, token_type_ids):
        position_ids = self.embeddings.position_ids[:, :input_ids.size(1)]
        return self.encode(self.embeddings.word_embeddings(input_ids), attention_mask, token_type_ids, position_ids)


def random_bert(config, generator):
    model = Bert(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn(p.shape, generator=generator))
            else:  # a Linear weight (out, in)
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(p.shape[1]))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def checkpoint_tensors(model):
    """The names BertModel.save_pretrained writes (position_ids too, as transformers before 4.31 did)."""
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------------------
# sentence-transformers pooling and the soft prompt.

def mean_pooling(hidden, weights):
    """sentence-transformers Pooling (mean): sum(h · mask) / clamp(sum(mask), min=1e-9) over the text tokens."""
    weights = weights.to(hidden.dtype)
    summed = (hidden * weights[:, :, None]).sum(dim=1)
    return summed / torch.clamp(weights.sum(dim=1, keepdim=True), min=1e-9)


def sentence_embeddings(hidden, text_mask):
    """all-MiniLM-L6-v2's modules: Pooling (mean), then Normalize (F.normalize(p=2, dim=1))."""
    return F.normalize(mean_pooling(hidden, text_mask), p=2, dim=1)


def prompted_inputs(model, prompt, batch, placement):
    """The sequence the encoder sees with a soft prompt, in sequence order: PEFT's prompt tuning puts the P rows
    before the embedded input ("before_cls"); "after_cls" puts them between [CLS] and the first text token.
    Prompt rows get mask 1 and token type 0; positions are 0 .. P+T-1 along the sequence (HF's default when
    position_ids is None, which PEFT forces); the text mask for pooling is 0 on the prompt rows."""
    ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
    batch_size, length = ids.shape
    words = model.embeddings.word_embeddings(ids).to(prompt.dtype)
    rows = prompt.unsqueeze(0).expand(batch_size, -1, -1)
    ones = torch.ones(batch_size, prompt.size(0), dtype=mask.dtype)
    zeros = torch.zeros(batch_size, prompt.size(0), dtype=mask.dtype)
    at = 0 if placement == "before_cls" else 1
    embeds = torch.cat((words[:, :at], rows, words[:, at:]), dim=1)
    full_mask = torch.cat((mask[:, :at], ones, mask[:, at:]), dim=1)
    text_mask = torch.cat((mask[:, :at], zeros, mask[:, at:]), dim=1)
    full_types = torch.cat((types[:, :at], zeros, types[:, at:]), dim=1)
    positions = torch.arange(prompt.size(0) + length).unsqueeze(0)
    return embeds, full_mask, text_mask, full_types, positions


def prompted_embeddings(model, prompt, batch, placement):
    embeds, full_mask, text_mask, types, positions = prompted_inputs(model, prompt, batch, placement)
    hidden = model.encode(embeds, full_mask, types, positions)
    return hidden, sentence_embeddings(hidden, text_mask)


def cosine_loss(embeddings, target):
    """loss = -Σ_b cos(embedding_b, target): what a prompt tuner pulling sentences toward a target minimises."""
    return -F.cosine_similarity(embeddings, target.unsqueeze(0).expand_as(embeddings), dim=1).sum()


def random_batch(vocab, generator):
    """Three sequences: [CLS] a b [SEP] c d [SEP] (a pair, token types 0 0 0 0 1 1 1), and two singles."""
    length = max(SEQUENCE_LENGTHS)
    ids = torch.full((len(SEQUENCE_LENGTHS), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for b, n in enumerate(SEQUENCE_LENGTHS):
        words = torch.randint(4, vocab, (n,), generator=generator)
        words[0], words[n - 1] = CLS_ID, SEP_ID
        ids[b, :n] = words
        mask[b, :n] = 1
    ids[0, 3] = SEP_ID
    types[0, 4:SEQUENCE_LENGTHS[0]] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


# ---------------------------------------------------------------------------------------------------------
# A numpy evaluator of the ONNX operators that torch.onnx.export (opset 11) writes for BERT. Not a runtime:
# only these operators, only the attributes BERT's graph uses, each from the ONNX operator specification.

def _attributes(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    e = numpy.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _reshape(x, shape):
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]  # 0 copies the input's dimension
    return x.reshape(shape)


def _slice(x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(min(e, sys.maxsize)), int(st))
    return x[tuple(index)]


ERF = numpy.vectorize(math.erf, otypes=[numpy.float64])

ONNX_OPERATORS = {
    "Add": lambda a, i: i[0] + i[1],
    "Sub": lambda a, i: i[0] - i[1],
    "Mul": lambda a, i: i[0] * i[1],
    "Div": lambda a, i: i[0] / i[1],
    "Pow": lambda a, i: numpy.power(i[0], i[1]),
    "Sqrt": lambda a, i: numpy.sqrt(i[0]),
    "Erf": lambda a, i: ERF(i[0]).astype(i[0].dtype),
    "MatMul": lambda a, i: numpy.matmul(i[0], i[1]),
    "Softmax": lambda a, i: _softmax(i[0], a.get("axis", 1)),  # opset 11: BERT's axis is the last one
    "ReduceMean": lambda a, i: i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1))),
    "Transpose": lambda a, i: numpy.transpose(i[0], a["perm"]),
    "Reshape": lambda a, i: _reshape(i[0], i[1]),
    "Unsqueeze": lambda a, i: numpy.expand_dims(i[0], tuple(a["axes"])),
    "Concat": lambda a, i: numpy.concatenate(i, axis=a["axis"]),
    "Shape": lambda a, i: numpy.array(i[0].shape, dtype=numpy.int64),
    "Gather": lambda a, i: numpy.take(i[0], i[1], axis=a.get("axis", 0)),
    "Slice": lambda a, i: _slice(i[0], *i[1:]),
    "Cast": lambda a, i: i[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]),
    "Constant": lambda a, i: a["value"] if isinstance(a["value"], numpy.ndarray) else None,
}


def evaluate_onnx(model, feeds, dtype=numpy.float32):
    """Runs the graph on numpy arrays. With dtype float64, float initializers and constants are widened, so the
    graph's own arithmetic can be compared with a float64 torch forward."""
    values = {}
    for t in model.graph.initializer:
        array = onnx.numpy_helper.to_array(t)
        values[t.name] = array.astype(dtype) if array.dtype == numpy.float32 else array
    values.update(feeds)
    for node in model.graph.node:
        attributes = _attributes(node)
        if node.op_type == "Constant":
            attributes["value"] = onnx.numpy_helper.to_array(attributes["value"])
            if attributes["value"].dtype == numpy.float32:
                attributes["value"] = attributes["value"].astype(dtype)
        if node.op_type == "Cast" and attributes["to"] == onnx.TensorProto.FLOAT:
            attributes["to"] = onnx.TensorProto.DOUBLE if dtype == numpy.float64 else onnx.TensorProto.FLOAT
        if node.op_type not in ONNX_OPERATORS:
            raise ValueError(f"the numpy evaluator has no operator {node.op_type} (node {node.name})")
        result = ONNX_OPERATORS[node.op_type](attributes, [values[name] if name else None for name in node.input])
        if isinstance(result, numpy.ndarray) and result.dtype == numpy.float64 and dtype == numpy.float32:
            result = result.astype(numpy.float32)
        values[node.output[0]] = result
    return [values[o.name] for o in model.graph.output]


def export_onnx(model, batch):
    """torch.onnx.export of forward(input_ids, attention_mask, token_type_ids) -> last_hidden_state, opset 11,
    dynamic batch and sequence axes: the settings of Xenova/all-MiniLM-L6-v2's model.onnx."""
    buffer = io.BytesIO()
    axes = {0: "batch_size", 1: "sequence_length"}
    torch.onnx.export(model, (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]), buffer,
                      opset_version=11, do_constant_folding=True,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "last_hidden_state": axes})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Checks, each seen to fail on a deliberately broken variant (see tools/README.md).

def scramble_anonymous_weights(onnx_bytes, generator):
    """Renames the anonymous onnx::MatMul_N weights to shuffled numbers and shuffles the initializer list, so that
    a reader must follow the graph (MatMul -> Add with a named bias) to tell which weight is which."""
    graph = onnx.load_from_string(onnx_bytes)
    anonymous = [t.name for t in graph.graph.initializer if t.name.startswith("onnx::MatMul_")]
    numbers = [int(n.split("_")[-1]) for n in anonymous]
    shuffled = [numbers[i] for i in torch.randperm(len(numbers), generator=generator).tolist()]
    renamed = {old: f"onnx::MatMul_{new}" for old, new in zip(anonymous, shuffled)}
    for t in graph.graph.initializer:
        t.name = renamed.get(t.name, t.name)
    for node in graph.graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
    order = torch.randperm(len(graph.graph.initializer), generator=generator).tolist()
    initializers = [graph.graph.initializer[i] for i in order]
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(initializers)
    assert any(renamed[a] != a for a in anonymous), "the shuffle left every name in place"
    return graph.SerializeToString()


def check_onnx_matches_torch(onnx_bytes, model, batch, hidden):
    graph = onnx.load_from_string(onnx_bytes)
    onnx.checker.check_model(graph)
    anonymous = [t.name for t in graph.graph.initializer if t.name.startswith("onnx::MatMul_")]
    assert len(anonymous) == 6 * model.config["num_hidden_layers"], f"expected anonymous MatMul weights: {anonymous}"
    feeds = {k: batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")}
    (onnx_hidden,) = evaluate_onnx(graph, feeds)
    error = numpy.abs(onnx_hidden - hidden.numpy()).max()
    assert error < 1e-5, f"ONNX graph and torch differ by {error}"


def check_padding(model, batch, embeddings):
    """A padded sequence's embedding equals the same sequence encoded alone, unpadded."""
    for b, n in enumerate(SEQUENCE_LENGTHS):
        alone = {k: v[b:b + 1, :n] for k, v in batch.items()}
        hidden = model(alone["input_ids"], alone["attention_mask"], alone["token_type_ids"])
        single = sentence_embeddings(hidden, alone["attention_mask"])
        assert torch.allclose(single[0], embeddings[b], atol=1e-6), f"padding changes sequence {b}"


def check_after_cls_is_a_permutation(model, prompt, batch, hidden_after):
    """BERT has no causal mask, so the order of rows in memory does not matter, only each row's position id.
    Encoding [prompt, text] with positions (1..P, 0, P+1, ..) gives after_cls's hidden states, rows permuted.
    promptgrad computes after_cls this way."""
    p = prompt.size(0)
    ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
    words = model.embeddings.word_embeddings(ids)
    embeds = torch.cat((prompt.unsqueeze(0).expand(ids.size(0), -1, -1), words), dim=1)
    full_mask = torch.cat((torch.ones(ids.size(0), p, dtype=mask.dtype), mask), dim=1)
    full_types = torch.cat((torch.zeros(ids.size(0), p, dtype=types.dtype), types), dim=1)
    positions = torch.tensor([list(range(1, p + 1)) + [0] + list(range(p + 1, p + ids.size(1)))])
    permuted = model.encode(embeds, full_mask, full_types, positions)
    order = [p] + list(range(p)) + list(range(p + 1, p + ids.size(1)))  # sequence row i is memory row order[i]
    error = (permuted[:, order] - hidden_after).abs().max().item()
    assert error < 1e-5, f"after_cls by permutation differs by {error}"


def check_gradient(model, prompt, batch, target, placement, prompt_grad):
    """gradcheck of dLoss/dPrompt in float64, and the float32 gradient within 1e-4 of the float64 one."""
    model64 = random_bert(model.config, torch.Generator().manual_seed(0)).double()
    model64.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in model.state_dict().items()})
    target64 = target.double()

    def loss_of(p):
        return cosine_loss(prompted_embeddings(model64, p, batch, placement)[1], target64)

    attached = prompt.double().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(loss_of, (attached,), eps=1e-6, atol=1e-7, rtol=1e-5)
    (grad64,) = torch.autograd.grad(loss_of(attached), attached)
    error = (grad64.float() - prompt_grad).abs().max().item()
    assert error < 1e-4, f"{placement}: float32 gradient differs from float64 by {error}"


# ---------------------------------------------------------------------------------------------------------

def sentence_transformers_files(config):
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    pooling = {"word_embedding_dimension": config["hidden_size"], "pooling_mode_cls_token": False,
               "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
               "pooling_mode_lasttoken": False, "include_prompt": True}
    return modules, pooling


def hf_config(config):
    c = dict(config)
    c.update({"architectures": ["BertModel"], "model_type": "bert", "attention_probs_dropout_prob": 0.1,
              "hidden_dropout_prob": 0.1, "initializer_range": 0.02, "position_embedding_type": "absolute",
              "use_cache": True, "classifier_dropout": None, "torch_dtype": "float32"})
    return c


def write_fixture(out_root, name, seed):
    generator = torch.Generator().manual_seed(seed)
    folder = os.path.join(out_root, name)
    model = random_bert(TINY_BERT, generator)
    batch = random_batch(TINY_BERT["vocab_size"], generator)
    prompt = torch.randn(NUM_VIRTUAL_TOKENS, TINY_BERT["hidden_size"], generator=generator) * 0.5  # (P, dim)
    target = torch.randn(TINY_BERT["hidden_size"], generator=generator)                          # (dim)

    with torch.no_grad():
        hidden = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])  # (batch, T, dim)
        mean = mean_pooling(hidden, batch["attention_mask"])
        embeddings = F.normalize(mean, p=2, dim=1)
    check_padding(model, batch, embeddings)
    onnx_bytes = scramble_anonymous_weights(export_onnx(model, batch), generator)
    check_onnx_matches_torch(onnx_bytes, model, batch, hidden)

    golden = {"hidden": hidden, "mean_pooled": mean, "embeddings": embeddings, "prompt": prompt,
              "target": target}
    summary = {}
    for placement in ("before_cls", "after_cls"):
        attached = prompt.clone().requires_grad_(True)
        prompted_hidden, prompted = prompted_embeddings(model, attached, batch, placement)
        loss = cosine_loss(prompted, target)
        (prompt_grad,) = torch.autograd.grad(loss, attached)
        check_gradient(model, prompt, batch, target, placement, prompt_grad)
        if placement == "after_cls":
            check_after_cls_is_a_permutation(model, prompt, batch, prompted_hidden.detach())
        golden[placement + "_hidden"] = prompted_hidden.detach()       # (batch, P+T, dim), sequence order
        golden[placement + "_embeddings"] = prompted.detach()          # (batch, dim)
        golden[placement + "_loss"] = loss.detach().reshape(1)         # (1)
        golden[placement + "_prompt_grad"] = prompt_grad               # (P, dim)
        summary[placement] = (loss.item(), prompt_grad.abs().max().item())

    modules, pooling = sentence_transformers_files(TINY_BERT)
    write_json(os.path.join(folder, "config.json"), hf_config(TINY_BERT))
    write_safetensors(os.path.join(folder, "model.safetensors"), checkpoint_tensors(model))
    write_json(os.path.join(folder, "modules.json"), modules)
    write_json(os.path.join(folder, "1_Pooling", "config.json"), pooling)
    write_atomically(os.path.join(folder, "model.onnx"), onnx_bytes)
    write_safetensors(os.path.join(folder, "golden.safetensors"), golden)
    for tensor_name, tensor in read_safetensors(os.path.join(folder, "golden.safetensors"))[0].items():
        assert torch.equal(tensor, golden[tensor_name]), f"{tensor_name} does not read back"
    write_json(os.path.join(folder, "golden.json"), {
        "model": name,
        "seed": seed,
        "P": NUM_VIRTUAL_TOKENS,
        "lengths": list(SEQUENCE_LENGTHS),
        "input_ids": batch["input_ids"].tolist(),
        "attention_mask": batch["attention_mask"].tolist(),
        "token_type_ids": batch["token_type_ids"].tolist(),
        "position_ids": list(range(NUM_VIRTUAL_TOKENS + max(SEQUENCE_LENGTHS))),
        "loss": "-sum over the batch of cos(embedding, target)",
        "before_cls_loss": summary["before_cls"][0],
        "after_cls_loss": summary["after_cls"][0],
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "onnx_version": onnx.__version__,
        "python_version": platform.python_version(),
        "script": "tools/bert_fixtures.py",
        "script_sha256": file_sha256(__file__),
    })
    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(folder) for f in files)
    assert size < MAX_FOLDER_BYTES, f"{folder} is {size} bytes"
    print(f"{name}: embeddings std {embeddings.std().item():.3f}; before_cls loss {summary['before_cls'][0]:.6f} "
          f"|dPrompt|max {summary['before_cls'][1]:.4g}; after_cls loss {summary['after_cls'][0]:.6f} "
          f"|dPrompt|max {summary['after_cls'][1]:.4g}; {size} bytes")


def file_sha256(path):
    with open(os.path.abspath(path), "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(repo_root, "models", "src", "test", "resources", "fixtures"),
                        help="folder that receives bert-tiny/ (default: the committed fixtures)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    write_fixture(args.out, "bert-tiny", BASE_SEED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
