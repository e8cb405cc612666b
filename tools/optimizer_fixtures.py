#!/usr/bin/python3
"""Writes the golden optimizer fixtures under core/src/test/resources/fixtures/optim/.

Run with Debian's python3-torch (apt-get install python3-torch), from the repository root:
    /usr/bin/python3 tools/optimizer_fixtures.py

AdamW, Adam and clip_grad_norm_ are torch's own; the learning-rate schedules are torch's LambdaLR driven by
the Hugging Face transformers lambdas, and Adafactor is Hugging Face transformers' algorithm
(transformers/optimization.py, Adafactor.step) re-written here in torch, because transformers is not
packaged for Debian. Every file records the torch version that wrote it. Values are float32 written as the
shortest decimal that reads back to the same float32 (exact), learning rates as float64.
"""

import json
import math
import os
import platform
from functools import partial

import torch

OUT = os.path.join("core", "src", "test", "resources", "fixtures", "optim")
STEPS = 10


def header(kind):
    return {
        "generator": "tools/optimizer_fixtures.py",
        "kind": kind,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def floats(tensor):
    return [float(x) for x in tensor.detach().reshape(-1).tolist()]


def write(name, document):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path + ".tmp", "w") as out:
        json.dump(document, out, indent=1)
        out.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote", path)


# ---- learning-rate schedules: transformers' lambdas, as LambdaLR multiplies them by the base lr ----

def constant_lambda(step):
    return 1.0


def warmup_constant_lambda(step, *, warmup):
    if step < warmup:
        return float(step) / float(max(1.0, warmup))
    return 1.0


def linear_lambda(step, *, warmup, total):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    return max(0.0, float(total - step) / float(max(1, total - warmup)))


def cosine_lambda(step, *, warmup, total, cycles=0.5):
    if step < warmup:
        return float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))


def schedule_lambda(spec):
    kind = spec["kind"]
    if kind == "constant":
        return constant_lambda
    if kind == "warmup-constant":
        return partial(warmup_constant_lambda, warmup=spec["warmup"])
    if kind == "linear":
        return partial(linear_lambda, warmup=spec["warmup"], total=spec["total"])
    if kind == "cosine":
        return partial(cosine_lambda, warmup=spec["warmup"], total=spec["total"])
    raise ValueError(kind)


def scheduler(optimizer, spec):
    return torch.optim.lr_scheduler.LambdaLR(optimizer, schedule_lambda(spec))


# ---- Hugging Face Adafactor, re-written from the published algorithm (relative_step=False only) ----

class HuggingFaceAdafactor(torch.optim.Optimizer):
    """transformers.optimization.Adafactor with an external learning rate (relative_step=False)."""

    def __init__(self, params, lr, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8, beta1=None,
                 weight_decay=0.0, scale_parameter=True):
        defaults = dict(lr=lr, eps=eps, clip_threshold=clip_threshold, decay_rate=decay_rate, beta1=beta1,
                        weight_decay=weight_decay, scale_parameter=scale_parameter)
        super().__init__(params, defaults)

    @staticmethod
    def rms(tensor):
        return tensor.norm(2) / (tensor.numel() ** 0.5)

    @staticmethod
    def approximate_squared_gradient(row_average, column_average):
        row_factor = (row_average / row_average.mean(dim=-1, keepdim=True)).rsqrt_().unsqueeze(-1)
        column_factor = column_average.unsqueeze(-2).rsqrt()
        return torch.mul(row_factor, column_factor)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                state = self.state[p]
                factored = grad.dim() >= 2
                first_moment = group["beta1"] is not None
                if len(state) == 0:
                    state["step"] = 0
                    if first_moment:
                        state["exp_avg"] = torch.zeros_like(grad)
                    if factored:
                        state["exp_avg_sq_row"] = torch.zeros(grad.shape[:-1])
                        state["exp_avg_sq_col"] = torch.zeros(grad.shape[:-2] + grad.shape[-1:])
                    else:
                        state["exp_avg_sq"] = torch.zeros_like(grad)
                state["step"] += 1
                lr = group["lr"]
                if group["scale_parameter"]:
                    lr = max(group["eps"][1], self.rms(p)) * lr

                beta2t = 1.0 - math.pow(state["step"], group["decay_rate"])
                update = (grad ** 2) + group["eps"][0]
                if factored:
                    row = state["exp_avg_sq_row"]
                    column = state["exp_avg_sq_col"]
                    row.mul_(beta2t).add_(update.mean(dim=-1), alpha=(1.0 - beta2t))
                    column.mul_(beta2t).add_(update.mean(dim=-2), alpha=(1.0 - beta2t))
                    update = self.approximate_squared_gradient(row, column)
                    update.mul_(grad)
                else:
                    average = state["exp_avg_sq"]
                    average.mul_(beta2t).add_(update, alpha=(1.0 - beta2t))
                    update = average.rsqrt().mul_(grad)

                update.div_((self.rms(update) / group["clip_threshold"]).clamp_(min=1.0))
                update.mul_(lr)
                if first_moment:
                    exp_avg = state["exp_avg"]
                    exp_avg.mul_(group["beta1"]).add_(update, alpha=(1 - group["beta1"]))
                    update = exp_avg
                if group["weight_decay"] != 0:
                    p.add_(p, alpha=(-group["weight_decay"] * lr))
                p.add_(-update)


# ---- trajectories ----

def make_parameters(shapes, generator):
    return [(name, torch.nn.Parameter(torch.randn(*shape, generator=generator))) for name, shape in shapes]


def varied_gradient(shape, step, generator):
    """Random gradients with magnitudes spread over 1e-3..10, a sign-flipping element and an exact zero."""
    g = torch.randn(*shape, generator=generator)
    g = g * (10.0 ** torch.randint(-3, 2, shape, generator=generator).float())
    flat = g.view(-1)
    flat[0] = 0.5 if step % 2 == 0 else -0.5
    if flat.numel() > 2:
        flat[1] = 0.0
    return g


def trajectory(kind, settings, schedule, shapes, make_optimizer, seed):
    generator = torch.Generator().manual_seed(seed)
    named = make_parameters(shapes, generator)
    document = header(kind)
    document["settings"] = settings
    document["schedule"] = schedule
    document["parameters"] = [
        {"name": name, "shape": list(p.shape), "initial": floats(p)} for name, p in named]
    optimizer = make_optimizer([p for _, p in named])
    lr_schedule = scheduler(optimizer, schedule)
    steps = []
    for step in range(STEPS):
        lr = optimizer.param_groups[0]["lr"]
        grads = {}
        for name, p in named:
            p.grad = varied_gradient(tuple(p.shape), step, generator)
            grads[name] = floats(p.grad)
        optimizer.step()
        lr_schedule.step()
        steps.append({"lr": lr, "grads": grads, "params": {name: floats(p) for name, p in named}})
    document["steps"] = steps
    final = {}
    for name, p in named:
        for slot, value in optimizer.state[p].items():
            if torch.is_tensor(value) and value.dim() > 0:
                final[name + "." + slot] = floats(value)
    document["final_state"] = final
    return document


def optimizer_fixtures():
    matrix_and_vector = [("matrix", (3, 4)), ("vector", (5,))]

    adamw = dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01)
    cosine = dict(kind="cosine", lr=0.05, warmup=2, total=STEPS)
    write("adamw.json", trajectory(
        "adamw", adamw, cosine, matrix_and_vector,
        lambda ps: torch.optim.AdamW(ps, lr=cosine["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), 1))

    adam = dict(beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)
    constant = dict(kind="constant", lr=0.01, warmup=0, total=STEPS)
    write("adam.json", trajectory(
        "adam", adam, constant, matrix_and_vector,
        lambda ps: torch.optim.Adam(ps, lr=constant["lr"], betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), 2))

    lester = dict(eps1=1e-30, eps2=1e-3, clip_threshold=1.0, decay_rate=-0.8, beta1=None, weight_decay=1e-5,
                  scale_parameter=False)
    lester_lr = dict(kind="constant", lr=0.3, warmup=0, total=STEPS)
    write("adafactor_lester.json", trajectory(
        "adafactor", lester, lester_lr, matrix_and_vector,
        lambda ps: HuggingFaceAdafactor(ps, lr=0.3, eps=(1e-30, 1e-3), clip_threshold=1.0, decay_rate=-0.8,
                                        beta1=None, weight_decay=1e-5, scale_parameter=False), 3))

    general = dict(eps1=1e-30, eps2=1e-3, clip_threshold=0.5, decay_rate=-0.6, beta1=0.9, weight_decay=1e-3,
                   scale_parameter=True)
    linear = dict(kind="linear", lr=0.1, warmup=3, total=STEPS)
    write("adafactor_general.json", trajectory(
        "adafactor", general, linear, matrix_and_vector + [("batched", (2, 3, 4))],
        lambda ps: HuggingFaceAdafactor(ps, lr=0.1, eps=(1e-30, 1e-3), clip_threshold=0.5, decay_rate=-0.6,
                                        beta1=0.9, weight_decay=1e-3, scale_parameter=True), 4))


def clipping_fixture():
    generator = torch.Generator().manual_seed(5)
    document = header("clip_grad_norm")
    cases = []
    for max_norm in (1.0, 1000.0):
        shapes = [(3, 4), (5,), (7,)]
        params = [torch.nn.Parameter(torch.zeros(*s)) for s in shapes]
        for p in params:
            p.grad = torch.randn(*p.shape, generator=generator) * 3.0
        before = [floats(p.grad) for p in params]
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        cases.append({"max_norm": max_norm, "grads": before, "total_norm": float(total),
                      "clipped": [floats(p.grad) for p in params]})
    document["cases"] = cases
    write("clip_grad_norm.json", document)


def schedule_fixture():
    document = header("lr_schedules")
    specs = [
        dict(kind="constant", lr=0.3, warmup=0, total=20),
        dict(kind="warmup-constant", lr=0.5, warmup=4, total=20),
        dict(kind="linear", lr=0.01, warmup=5, total=20),
        dict(kind="linear", lr=0.02, warmup=0, total=7),
        dict(kind="cosine", lr=0.001, warmup=3, total=20),
        dict(kind="cosine", lr=0.1, warmup=0, total=9),
    ]
    schedules = []
    for spec in specs:
        param = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([param], lr=spec["lr"])
        lr_schedule = scheduler(optimizer, spec)
        rates = []
        for _ in range(spec["total"] + 3):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            lr_schedule.step()
        schedules.append(dict(spec, rates=rates))
    document["schedules"] = schedules
    write("lr_schedules.json", document)


if __name__ == "__main__":
    optimizer_fixtures()
    clipping_fixture()
    schedule_fixture()
