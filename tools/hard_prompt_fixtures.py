#!/usr/bin/env python3
"""Writes the hard-prompt golden fixture: for the committed gpt2-tiny model, a hard prompt's token ids inserted into a
padded batch of examples (after a leading BOS), the mean loss, GCG's gradient with respect to the one-hot indicators
of the prompt tokens (Zou et al. 2023, token_gradients: loss.backward() through one_hot @ E), the gradient with respect
to the prompt's embedding rows, and the forward-only losses of a few single-token swaps.

It reads the model that golden_fixtures.py wrote (models/src/test/resources/fixtures/gpt2-tiny) and reuses that
script's GPT-2 (TinyGpt2) and safetensors reader by importing it; it does not write the model. Run it with Debian's
/usr/bin/python3 (torch 1.13, numpy); tools/README.md says what the file holds.
"""

import argparse
import hashlib
import json
import os
import platform
import sys

import numpy
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # importing the sibling script must leave no __pycache__ in tools/
from golden_fixtures import GPT2_TINY, IGNORE_INDEX, TinyGpt2, read_safetensors, write_json  # noqa: E402

BOS = 60  # gpt2-tiny's config.json: bos_token_id = vocab_size - 1
PAD_TOKEN_ID = 0
PROMPT = [7, 23, 41, 5]
# Three examples: two start with BOS (the prompt goes after it), one does not (the prompt goes first).
# Labels: -100 where no loss is taken; the prompt's positions are -100 too once inserted.
EXAMPLES = [
    {"input_ids": [BOS, 12, 33, 4, 9, 17], "labels": [-100, -100, 33, 4, 9, 17]},
    {"input_ids": [BOS, 2, 58], "labels": [-100, 2, 58]},
    {"input_ids": [31, 30, 29, 28, 27], "labels": [31, 30, 29, -100, 27]},
]
SWAPS = [[0, 3], [1, 50], [2, 41], [3, 12], [3, 0]]  # (position, new token), scored with forward passes only


def insert(example, prompt):
    """The example's ids and labels with the prompt after a leading BOS (else first), its labels -100."""
    ids, labels = example["input_ids"], example["labels"]
    at = 1 if ids[0] == BOS else 0
    return (ids[:at] + prompt + ids[at:], labels[:at] + [IGNORE_INDEX] * len(prompt) + labels[at:], at)


def padded_batch(prompt):
    rows = [insert(example, prompt) for example in EXAMPLES]
    longest = max(len(ids) for ids, _, _ in rows)
    input_ids = torch.full((len(rows), longest), PAD_TOKEN_ID, dtype=torch.int64)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.int64)
    labels = torch.full((len(rows), longest), IGNORE_INDEX, dtype=torch.int64)
    for row, (ids, row_labels, _) in enumerate(rows):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        attention_mask[row, :len(ids)] = 1
        labels[row, :len(ids)] = torch.tensor(row_labels)
    return input_ids, attention_mask, labels, [at for _, _, at in rows]


def loss_of(model, one_hot, prompt):
    """The mean next-token loss with the prompt rows given as one_hot @ E (one_hot (P, vocab))."""
    input_ids, attention_mask, labels, offsets = padded_batch(prompt)
    table = model.weights["transformer.wte.weight"]
    embeds = model.embed(input_ids).clone()  # (batch, T, dim)
    prompt_embeds = one_hot @ table  # (P, dim): GCG's input_embeds = (one_hot @ embed_weights).unsqueeze(0)
    rows = []
    for row, at in enumerate(offsets):
        # torch.cat([embeds[:, :start], input_embeds, embeds[:, stop:]], dim=1)
        rows.append(torch.cat([embeds[row, :at], prompt_embeds, embeds[row, at + len(prompt):]], dim=0))
    inputs_embeds = torch.stack(rows)
    logits, _, _ = model.forward(inputs_embeds, attention_mask)
    vocab = logits.shape[-1]
    # shift_logits = logits[..., :-1, :]; shift_labels = labels[..., 1:]; CrossEntropyLoss() (mean, -100 ignored)
    return F.cross_entropy(logits[:, :-1, :].reshape(-1, vocab), labels[:, 1:].reshape(-1),
                           ignore_index=IGNORE_INDEX), prompt_embeds


def one_hot_of(prompt, vocab, dtype):
    one_hot = torch.zeros(len(prompt), vocab, dtype=dtype)
    one_hot[torch.arange(len(prompt)), torch.tensor(prompt)] = 1  # one_hot.scatter_(1, input_ids[slice], 1)
    return one_hot


def check_against_finite_differences(model64, grad64):
    """Along the path from token old to token new at position i, d/dt L(E_i + t (e_new - e_old)) at t = 0 is
    G[i, new] - G[i, old]; central differences in float64 must agree."""
    vocab = model64.config["vocab_size"]
    step = 1e-6
    for position, token in SWAPS:
        one_hot = one_hot_of(PROMPT, vocab, torch.float64)
        direction = torch.zeros_like(one_hot)
        direction[position, token] += 1
        direction[position, PROMPT[position]] -= 1
        plus, _ = loss_of(model64, one_hot + step * direction, PROMPT)
        minus, _ = loss_of(model64, one_hot - step * direction, PROMPT)
        numeric = (plus - minus).item() / (2 * step)
        analytic = (grad64[position, token] - grad64[position, PROMPT[position]]).item()
        assert abs(numeric - analytic) < 1e-7 * max(1.0, abs(analytic)), (position, token, numeric, analytic)


def script_sha256():
    with open(os.path.abspath(__file__), "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fixtures = os.path.join(repo_root, "models", "src", "test", "resources", "fixtures")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(fixtures, "hard-prompt", "gpt2-tiny-one-hot.json"),
                        help="the file to write (default: the committed fixture)")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    weights, _ = read_safetensors(os.path.join(fixtures, "gpt2-tiny", "model.safetensors"))
    weights = {name: tensor for name, tensor in weights.items() if not name.endswith((".attn.bias", ".masked_bias"))}
    model = TinyGpt2(GPT2_TINY, weights)
    vocab = GPT2_TINY["vocab_size"]

    one_hot = one_hot_of(PROMPT, vocab, torch.float32).requires_grad_(True)
    loss, prompt_embeds = loss_of(model, one_hot, PROMPT)
    one_hot_grad, rows_grad = torch.autograd.grad(loss, [one_hot, prompt_embeds])
    # the chain rule through one_hot @ E: d loss / d one_hot = (d loss / d rows) @ E.T
    assert torch.allclose(one_hot_grad, rows_grad @ weights["transformer.wte.weight"].t(), atol=1e-6)

    model64 = model.to(torch.float64)
    one_hot64 = one_hot_of(PROMPT, vocab, torch.float64).requires_grad_(True)
    loss64, _ = loss_of(model64, one_hot64, PROMPT)
    (grad64,) = torch.autograd.grad(loss64, one_hot64)
    assert (grad64 - one_hot_grad.double()).abs().max().item() < 1e-5, "float32 and float64 gradients differ"
    check_against_finite_differences(model64, grad64)

    swap_losses = []
    with torch.no_grad():
        for position, token in SWAPS:
            swapped = list(PROMPT)
            swapped[position] = token
            swap_loss, _ = loss_of(model, one_hot_of(swapped, vocab, torch.float32), swapped)
            swap_losses.append(float(swap_loss.item()))

    input_ids, attention_mask, labels, _ = padded_batch(PROMPT)
    write_json(args.out, {
        "model": "gpt2-tiny",
        "bos": BOS,
        "pad_token_id": PAD_TOKEN_ID,
        "prompt": PROMPT,
        "examples": EXAMPLES,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "labels": labels.tolist(),
        "loss": float(loss.item()),
        "one_hot_grad": [[float(v) for v in row] for row in one_hot_grad.tolist()],
        "prompt_rows_grad": [[float(v) for v in row] for row in rows_grad.tolist()],
        "swaps": SWAPS,
        "swap_losses": swap_losses,
        "torch_version": torch.__version__,
        "numpy_version": numpy.__version__,
        "python_version": platform.python_version(),
        "script": "tools/hard_prompt_fixtures.py",
        "script_sha256": script_sha256(),
    })
    print(f"gpt2-tiny hard prompt {PROMPT}: loss {loss.item():.6f}, |one-hot grad|max "
          f"{one_hot_grad.abs().max().item():.4g}, swap losses {[round(v, 4) for v in swap_losses]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
