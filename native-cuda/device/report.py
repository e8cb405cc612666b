#!/usr/bin/env python3
"""Builds the device check's one Markdown table from the JSON lines DeviceStepBenchmark and torch_step.py append:
per model shape and precision, each framework's ms/step, tokens/s and peak device memory, and promptgrad's speed
relative to PyTorch + PEFT. Adds the test stage's verdict, compute-sanitizer's findings and the machine. Standard
library only; prints to stdout.
"""
import argparse
import json
import os

FRAMEWORKS = ("promptgrad", "pytorch+peft")
# rows shown when present, compared with PyTorch too; the baseline is another build timed in the same call
OPTIONAL = ("promptgrad bf16 weights", "promptgrad baseline")


def mib(value):
    return "n/a" if value is None else f"{value / 1048576:,.0f}"


def step_time(r):
    """The median step, with the fastest and slowest when the row has them (older rows hold only a mean)."""
    if r.get("ms_fastest") is None:
        return f"{r['ms_per_step']:.1f}"
    return f"{r['ms_per_step']:.1f} ({r['ms_fastest']:.1f}–{r['ms_slowest']:.1f})"


def read_results(path):
    results = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                line = line.strip()
                if line:
                    r = json.loads(line)
                    results[(r["model"], r["precision"], r["framework"])] = r
    return results


def verdict(path):
    """The DeviceCheck's last line about the tests, or why there is none."""
    if not os.path.exists(path):
        return "no test log"
    with open(path, encoding="utf-8", errors="replace") as log:
        lines = [l.strip() for l in log if "device check:" in l]
    return lines[-1] if lines else "the test run ended without a summary (see tests.txt)"


def sanitizer_verdict(path):
    """compute-sanitizer's summary over the contract suite: its ERROR SUMMARY, the findings printed before a cut,
    the suite's own verdict, or why it did not run."""
    tool = os.path.basename(path).removeprefix("sanitize-").removesuffix(".txt")
    if not os.path.exists(path):
        return f"{tool}: no log"
    with open(path, encoding="utf-8", errors="replace") as log:
        lines = [l.strip() for l in log]
    if any("not run" in l for l in lines):
        return next(l for l in lines if "not run" in l).replace("compute-sanitizer", tool)
    # memcheck ends with "ERROR SUMMARY: n errors", racecheck with "RACECHECK SUMMARY: n hazards displayed (...)"
    summary = [l.lstrip("= ") for l in lines if "ERROR SUMMARY" in l or "RACECHECK SUMMARY" in l]
    findings = sum(1 for l in lines if l.startswith("========= ") and "SUMMARY" not in l
                   and ("Invalid" in l or "Race" in l or "hazard" in l.lower()))
    tests = [l for l in lines if "device check:" in l]
    cut = any("sanitize: cut" in l for l in lines)
    parts = [summary[-1] if summary else f"{findings} findings printed"]
    if cut:
        parts.append("cut at the time limit, so only the tests run before it were checked")
    if tests:
        parts.append(tests[-1])
    return f"{tool}: " + "; ".join(parts)


def environment(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as env:
        return [l.strip() for l in env if l.startswith(("gpu:", "torch ", "java:", "commit:"))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True)
    parser.add_argument("--tests", required=True)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--models", default="gpt2-small,gpt2-medium", help="the shapes expected in the table")
    parser.add_argument("--precisions", default="fp32,tf32")
    parser.add_argument("--profile", help="DeviceStepBenchmark --profile's tables, appended when present")
    parser.add_argument("--baseline", help="the commit of the 'promptgrad baseline' rows, when there are any")
    parser.add_argument("--sanitizer", action="append", default=[],
                        help="a compute-sanitizer stage log (sanitize-TOOL.txt); may repeat")
    args = parser.parse_args()
    results = read_results(args.results)

    print("# promptgrad device check")
    print()
    for line in environment(args.environment):
        print(f"- {line}")
    ours = next((r for r in results.values() if r["framework"] == "promptgrad"), None)
    if ours:
        print(f"- promptgrad CUDA backend: {ours['device']}")
    print(f"- tests: {verdict(args.tests)}")
    for log in args.sanitizer:
        print(f"- compute-sanitizer {sanitizer_verdict(log)}")
    print()
    print("| model | precision | framework | ms/step (fastest–slowest) | tokens/s | peak allocated (MiB) | peak reserved (MiB)"
          " | loss first → last | promptgrad speed vs PyTorch |")
    print("|---|---|---|---:|---:|---:|---:|---|---:|")
    missing = []
    for model in args.models.split(","):
        for precision in args.precisions.split(","):
            pair = {f: results.get((model, precision, f)) for f in FRAMEWORKS + OPTIONAL}
            torch = pair["pytorch+peft"]
            for framework in FRAMEWORKS + OPTIONAL:
                r = pair[framework]
                if r is None:
                    if framework in FRAMEWORKS:
                        missing.append(f"{model} {precision} {framework}")
                    continue
                ratio = ""
                if framework != "pytorch+peft" and torch:
                    ratio = f"{torch['ms_per_step'] / r['ms_per_step']:.2f}×"
                print(f"| {model} | {precision} | {framework} | {step_time(r)} | {r['tokens_per_s']:,.0f}"
                      f" | {mib(r['peak_allocated_bytes'])} | {mib(r['peak_reserved_bytes'])}"
                      f" | {r['first_loss']:.3f} → {r['last_loss']:.3f} | {ratio} |")
    print()
    attention = next((r.get("attention") for r in results.values() if r["framework"] == "pytorch+peft"), "unknown")
    shapes = sorted({(r["batch"], r["tokens"], r["virtual_tokens"]) for r in results.values()})
    shape = "; ".join(f"batch {b} × {t} tokens plus {v} virtual tokens" for b, t, v in shapes) or "no results"
    print(shape[0].upper() + shape[1:] + "; random weights; a step is forward, loss, backward to the"
          " prompt and the AdamW update, each waiting for the GPU; ms/step is the median of the timed steps."
          " tokens/s counts the batch's text tokens."
          " Peaks are over the timed steps, after warm-up. Peak allocated: promptgrad's live tensor bytes (weights,"
          " step workspace, prompt) against torch.cuda.max_memory_allocated(); reserved (PyTorch only) adds its"
          " caching allocator's free blocks. promptgrad's step is the one `promptgrad train` runs (the models"
          " module's fused GPT-2 layers); 'bf16 weights' stores the weight matrices as bfloat16 and widens them to"
          " float32 in every product."
          + (f" 'promptgrad baseline' is the build of commit {args.baseline}, timed in the same call." if args.baseline
             else "")
          + " Speed vs PyTorch above 1× means promptgrad is faster. PyTorch's attention"
          " implementation: " + str(attention) + "; promptgrad's attention stores the full score and probability"
          " matrices.")
    first = args.models.split(",")[0]
    verdicts = []
    for precision in args.precisions.split(","):
        ours, torch = results.get((first, precision, "promptgrad")), results.get((first, precision, "pytorch+peft"))
        if ours and torch:
            speed = torch["ms_per_step"] / ours["ms_per_step"]
            verdicts.append(f"{speed:.2f}× at {precision} ({'as fast or faster' if speed >= 1 else 'slower'})")
    if verdicts:
        print()
        print(f"**{first}, promptgrad's speed over PyTorch + PEFT's: " + "; ".join(verdicts) + "** (issue #6 asks"
              " for at least 1× at the same precision, or an explanation).")
    if missing:
        print()
        print("Missing (the stage failed or timed out; see the logs in $OUT): " + ", ".join(missing))
    if args.profile and os.path.exists(args.profile):
        print()
        print("# Where promptgrad's step spends its time")
        print()
        print("Each kernel timed with TimingBackend, which waits for the device after every call, so the step is slower")
        print("than in the table above; the shares say where the time goes.")
        print()
        with open(args.profile, encoding="utf-8") as profile:
            print(profile.read().rstrip())


if __name__ == "__main__":
    main()
