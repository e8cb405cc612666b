#!/usr/bin/env python3
"""PyTorch + PEFT's prompt-tuning step on the GPU, the reference for promptgrad's DeviceStepBenchmark.

For each model shape and precision: GPT2LMHeadModel built from transformers' GPT2Config (random weights, its
own initialisation, dropout 0 as promptgrad has none) wrapped by PEFT's PROMPT_TUNING for CAUSAL_LM, a batch of
random token ids that are also the labels, AdamW on the prompt. One step is forward with labels, backward,
optimizer.step() and zero_grad(), each timed on the wall clock after warm-up steps with the GPU synchronised; the
time reported is the median step, with the fastest and slowest beside it. Peak
memory is torch.cuda.max_memory_allocated() / max_memory_reserved() over the timed steps (weights included).
Appends one JSON line per configuration to --out, the format report.py reads beside DeviceStepBenchmark's.
Runs on the device machine (it needs CUDA, torch, transformers and peft); --device cpu rehearses it, small, on a
machine without a GPU (peak memory is then not measured). It is not part of the build.
"""
import argparse
import gc
import json
import statistics
import time

import torch
import transformers
import peft
from peft import PromptTuningConfig, TaskType, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel

SHAPES = {   # DeviceStepBenchmark's shapes; gpt2-tiny is for rehearsals on a CPU
    "gpt2-small": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    "gpt2-medium": dict(vocab_size=50257, n_positions=1024, n_embd=1024, n_layer=24, n_head=16),
    "gpt2-tiny": dict(vocab_size=61, n_positions=64, n_embd=32, n_layer=2, n_head=4),
}


def set_precision(precision):
    """fp32: plain float32 matmuls; tf32: TF32 tensor cores for matmuls (torch's allow_tf32)."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")


def run(model_name, precision, batch, tokens, virtual, warmup, steps, device):
    cuda = device == "cuda"
    set_precision(precision)
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    config = GPT2Config(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **SHAPES[model_name])
    torch.manual_seed(7)
    with torch.device(device):
        base = GPT2LMHeadModel(config)
    model = get_peft_model(base, PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=virtual))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-2)
    generator = torch.Generator().manual_seed(20240601)
    ids = torch.randint(0, config.vocab_size, (batch, tokens), generator=generator).to(device)
    mask = torch.ones_like(ids)

    def step():
        loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()  # waits for the GPU, as promptgrad's step waits for its gradient

    first = step()
    for _ in range(warmup - 1):
        step()
    synchronize = torch.cuda.synchronize if cuda else (lambda: None)
    synchronize()
    if cuda:
        torch.cuda.reset_peak_memory_stats()  # peaks of the timed steps, as DeviceStepBenchmark measures them
    last = first
    step_ms = []
    for _ in range(steps):
        start = time.perf_counter()
        last = step()
        synchronize()
        step_ms.append((time.perf_counter() - start) * 1000)
    ms = statistics.median(step_ms)
    result = {
        "framework": "pytorch+peft", "model": model_name, "precision": precision, "batch": batch,
        "tokens": tokens, "virtual_tokens": virtual, "ms_per_step": round(ms, 3),
        "ms_fastest": round(min(step_ms), 3), "ms_slowest": round(max(step_ms), 3),
        "tokens_per_s": round(batch * tokens / (ms / 1000), 1),
        "peak_allocated_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_reserved_bytes": torch.cuda.max_memory_reserved() if cuda else None,
        "first_loss": first, "last_loss": last,
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "attention": getattr(base.config, "_attn_implementation", "unknown"),
        "versions": f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}",
    }
    del model, base, optimizer, ids, mask
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gpt2-small,gpt2-medium")
    parser.add_argument("--precisions", default="fp32,tf32")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--virtual", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch_step.py: torch sees no CUDA device")
    for model_name in args.models.split(","):
        for precision in args.precisions.split(","):
            result = run(model_name, precision, args.batch, args.tokens, args.virtual, args.warmup, args.steps,
                         args.device)
            line = json.dumps(result)
            print(line, flush=True)
            with open(args.out, "a", encoding="utf-8") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
