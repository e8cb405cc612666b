#!/usr/bin/python3
"""The PyTorch side of `promptgrad bench step`: one soft-prompt training step of a frozen GPT-2 in plain torch.

A randomly initialised GPT-2 (Hugging Face's GPT2LMHeadModel re-implemented in plain torch, weights frozen with
requires_grad=False), a prompt of P rows with requires_grad=True in front of the token embeddings (PEFT's
PROMPT_TUNING), the mean next-token cross-entropy over the labelled positions, backward, and an AdamW step on
the prompt. Prints the median, min and max ms/step and peak resident memory, as JSON with --json. It measures;
it writes no file and is not used by any test. Flags mirror `promptgrad bench step` (docs/performance.md).

Run with Debian's python3-torch, e.g. with OpenBLAS as the BLAS torch calls (Debian's libopenblas0-pthread):
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread /usr/bin/python3 tools/torch_step_bench.py --threads 2
"""
import argparse
import json
import math
import resource
import statistics
import time

import torch


def gelu_new(x):
    # PyTorch (HF NewGELUActivation): 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Gpt2:
    """GPT2LMHeadModel's forward from input embeddings; Conv1D weights stored [in, out], head tied to wte."""

    def __init__(self, layers, dim, heads, hidden, vocab, positions, generator):
        def normal(*shape):
            return (torch.randn(*shape, generator=generator) * 0.02).requires_grad_(False)

        self.heads = heads
        self.wte = normal(vocab, dim)
        self.wpe = normal(positions, dim)
        self.blocks = []
        for _ in range(layers):
            self.blocks.append(dict(
                ln1_w=torch.ones(dim), ln1_b=torch.zeros(dim),
                attn_w=normal(dim, 3 * dim), attn_b=torch.zeros(3 * dim),
                proj_w=normal(dim, dim), proj_b=torch.zeros(dim),
                ln2_w=torch.ones(dim), ln2_b=torch.zeros(dim),
                fc_w=normal(dim, hidden), fc_b=torch.zeros(hidden),
                fcproj_w=normal(hidden, dim), fcproj_b=torch.zeros(dim)))
        self.lnf_w = torch.ones(dim)
        self.lnf_b = torch.zeros(dim)

    @staticmethod
    def conv1d(x, w, b):
        # PyTorch (HF Conv1D): x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return torch.addmm(b, x.reshape(-1, x.size(-1)), w).view(*x.shape[:-1], w.size(1))

    def attention(self, x, blk):
        batch, length, dim = x.shape
        head = dim // self.heads
        q, k, v = self.conv1d(x, blk["attn_w"], blk["attn_b"]).split(dim, dim=2)
        q, k, v = (t.view(batch, length, self.heads, head).transpose(1, 2) for t in (q, k, v))
        # PyTorch (HF GPT2Attention._attn): weights = q @ k^T / sqrt(d), causal mask, softmax, @ v
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head)
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min))
        w = torch.softmax(w, dim=-1)
        out = torch.matmul(w, v).transpose(1, 2).reshape(batch, length, dim)
        return self.conv1d(out, blk["proj_w"], blk["proj_b"])

    def logits(self, embeddings):
        length = embeddings.size(1)
        x = embeddings + self.wpe[:length]
        for blk in self.blocks:
            x = x + self.attention(torch.nn.functional.layer_norm(x, (x.size(-1),), blk["ln1_w"], blk["ln1_b"]), blk)
            h = torch.nn.functional.layer_norm(x, (x.size(-1),), blk["ln2_w"], blk["ln2_b"])
            x = x + self.conv1d(gelu_new(self.conv1d(h, blk["fc_w"], blk["fc_b"])), blk["fcproj_w"], blk["fcproj_b"])
        x = torch.nn.functional.layer_norm(x, (x.size(-1),), self.lnf_w, self.lnf_b)
        return x @ self.wte.t()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--dim", type=int, default=768)
    p.add_argument("--hidden", type=int, default=None)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--positions", type=int, default=1024)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--virtual-tokens", type=int, default=20)
    p.add_argument("--labelled", default="all", help="all, or last:K")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    hidden = a.hidden or 4 * a.dim
    gen = torch.Generator().manual_seed(1)
    model = Gpt2(a.layers, a.dim, a.heads, hidden, a.vocab, a.positions, gen)
    ids = torch.randint(0, a.vocab, (a.batch, a.tokens), generator=gen)
    labels = ids.clone()
    if a.labelled != "all":
        k = int(a.labelled.split(":")[1])
        labels[:, : a.tokens - k] = -100
    # PyTorch (PEFT): labels = cat((full(-100, P), labels), dim=1); inputs_embeds = cat((prompts, embeds), dim=1)
    labels = torch.cat([torch.full((a.batch, a.virtual_tokens), -100), labels], dim=1)
    prompt = (torch.randn(a.virtual_tokens, a.dim, generator=gen) * 0.5).requires_grad_(True)
    optimizer = torch.optim.AdamW([prompt], lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        embeds = torch.cat([prompt.unsqueeze(0).expand(a.batch, -1, -1), model.wte[ids]], dim=1)
        logits = model.logits(embeds)
        # PyTorch (HF): loss = CrossEntropyLoss()(logits[..., :-1, :].view(-1, V), labels[..., 1:].view(-1))
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, a.vocab), labels[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times, cpu = [], []
    for _ in range(a.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - cpu_start) * 1e3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if torch.backends.mkl.is_available():   # PyPI's wheels link MKL into torch (numpy may map its own OpenBLAS)
        blas = ["MKL, linked into torch"]
    else:
        blas = [line.split()[-1] for line in open("/proc/self/maps") if "blas" in line and ".so" in line]
    result = dict(torch=torch.__version__, threads=torch.get_num_threads(), blas=sorted(set(blas)),
                  median_ms=statistics.median(times), min_ms=min(times), max_ms=max(times),
                  cpu_ms=statistics.median(cpu),
                  tokens_per_s=a.batch * a.tokens / (statistics.median(times) / 1e3), peak_rss_bytes=peak,
                  labelled=a.labelled, batch=a.batch, tokens=a.tokens, virtual_tokens=a.virtual_tokens)
    if a.json:
        print(json.dumps(result))
    else:
        print(f"torch {result['torch']} ({', '.join(result['blas'])}), {result['threads']} threads, "
              f"labelled {a.labelled}: median {result['median_ms']:.1f} ms (min {result['min_ms']:.1f}, "
              f"max {result['max_ms']:.1f}); {result['cpu_ms']:.1f} ms of CPU time; "
              f"peak resident memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
