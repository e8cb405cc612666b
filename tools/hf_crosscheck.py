#!/usr/bin/env python3
"""Checks the committed golden fixtures and promptgrad's PEFT files against the real Hugging Face libraries.

golden_fixtures.py writes GPT-2, Llama and PEFT prompt tuning from their documentation, without importing
transformers or peft. This script loads each fixture model with transformers' AutoModelForCausalLM and its
adapter with peft's PeftModel, runs the fixture's padded batch and compares logits, loss and dLoss/dPrompt
with golden.json/golden.safetensors. With --save-peft it also saves each fixture's adapter again with PEFT's
own save_pretrained, into the fixture's adapter-peft/ folder (config and weights; not PEFT's model card, which
names this machine's paths), for promptgrad's tests to read and to compare its own files with. Needs torch,
transformers, peft and safetensors; not part of the build, CI never runs it.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import peft
import torch
import transformers
from peft import PeftModel
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "models", "src", "test", "resources", "fixtures")
MODELS = ["gpt2-tiny", "llama-tiny", "llama-tiny-gqa", "llama-tiny-llama3"]
TOLERANCE = 2e-5   # float32 through two implementations of the same arithmetic


def load(folder, adapter):
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    base.eval()   # dropout off, as promptgrad has none
    return PeftModel.from_pretrained(base, adapter)


def prompt_of(model):
    return model.prompt_encoder["default"].embedding.weight


def worst(name, ours, theirs):
    """Largest absolute difference, printed and returned."""
    diff = float(np.max(np.abs(np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64))))
    print(f"  {name:<12} max |golden - transformers/peft| = {diff:.3g}")
    return diff


def check_golden(name):
    folder = os.path.join(FIXTURES, name)
    with open(os.path.join(folder, "golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    tensors = load_file(os.path.join(folder, "golden.safetensors"))
    model = load(folder, os.path.join(folder, "adapter"))
    # PEFT loads a prompt-learning adapter for inference only; its forward then uses the weight itself
    prompt_of(model).requires_grad_(True)
    ids = torch.tensor(golden["input_ids"])
    mask = torch.tensor(golden["attention_mask"])
    labels = torch.tensor(golden["labels"])
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    prompt = prompt_of(model)
    print(f"{name}: {type(model.base_model).__name__}, {prompt.shape[0]} virtual tokens")
    diffs = [
        worst("prompt", tensors["prompt"], prompt.detach().numpy()),
        worst("logits", tensors["logits"], out.logits.detach().numpy()),
        worst("loss", tensors["loss"], [out.loss.item()]),
        worst("dPrompt", tensors["prompt_grad"], prompt.grad.numpy()),
    ]
    return model, max(diffs)


def save_peft(model, name):
    """PEFT's save_pretrained into a temporary folder, then its two adapter files into the fixture's adapter-peft/."""
    target = os.path.join(FIXTURES, name, "adapter-peft")
    os.makedirs(target, exist_ok=True)
    with tempfile.TemporaryDirectory() as saved:
        model.save_pretrained(saved)
        for file in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copyfile(os.path.join(saved, file), os.path.join(target, file + ".tmp"))
            os.replace(os.path.join(target, file + ".tmp"), os.path.join(target, file))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save-peft", action="store_true",
                        help="save each fixture's adapter again with PEFT's save_pretrained, into adapter-peft/")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")
    failed = []
    for name in MODELS:
        model, diff = check_golden(name)
        if not diff <= TOLERANCE:
            failed.append(f"{name}: golden differs by {diff:.3g}")
        if args.save_peft:
            save_peft(model, name)
    if failed:
        sys.exit("hf_crosscheck.py: " + "; ".join(failed))
    print(f"all {len(MODELS)} fixtures agree with transformers and peft within {TOLERANCE}")


if __name__ == "__main__":
    main()
