#!/usr/bin/python3
"""Runs `promptgrad bench step` and tools/torch_step_bench.py alternately on one shape and prints the ratios.

Each round runs, one after another: our step and PyTorch's with every token labelled, then both with
--labelled last:K, then our step once more with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its
environment, then PyTorch tuned for a shared machine (OMP_WAIT_POLICY=PASSIVE) in both modes. PyTorch runs
with Debian's OpenBLAS, or with --torch-python another Python's torch (a PyPI wheel brings its own MKL/oneDNN and
is run as it comes). Rounds interleave the two programs so that a shared machine's changing load falls on
both; the summary gives each configuration's median over rounds (wall and CPU time per step, peak memory) and
the median of the per-round ratios. Writes nothing
but the JSON lines it prints (--log FILE keeps them). Used for docs/performance.md; not part of any test.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
DEBIAN_PYTHON = "/usr/bin/python3"


def run(command, env=None):
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--last", type=int, default=4, help="K of --labelled last:K")
    p.add_argument("--log", help="also append every result as a JSON line to this file")
    p.add_argument("--torch-python", default=DEBIAN_PYTHON,
                   help="the Python whose torch runs tools/torch_step_bench.py (default: Debian's, with its OpenBLAS)")
    p.add_argument("--promptgrad", default=os.path.join(ROOT, "promptgrad"),
                   help="the command to run as promptgrad (default: the launcher at the repository root)")
    a = p.parse_args()
    common = ["--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads), "--json"]
    ours = [a.promptgrad, "bench", "step"] + common
    torch = [a.torch_python, os.path.join(ROOT, "tools", "torch_step_bench.py")] + common
    torch_env = dict(os.environ)
    if a.torch_python == DEBIAN_PYTHON and os.path.isdir(OPENBLAS):   # Debian's OpenBLAS, not the system's libblas
        torch_env["LD_LIBRARY_PATH"] = OPENBLAS + os.pathsep + torch_env.get("LD_LIBRARY_PATH", "")
    # by default torch's idle OpenMP workers spin and take the cores from OpenBLAS's threads; PASSIVE parks them
    passive_env = dict(torch_env, OMP_WAIT_POLICY="PASSIVE")
    bare_env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    last = f"last:{a.last}"
    results = {}
    log = open(a.log, "a") if a.log else None
    for round_ in range(a.rounds):
        for name, command, env in [
                ("ours all", ours + ["--labelled", "all"], None),
                ("torch all", torch + ["--labelled", "all"], torch_env),
                (f"ours {last}", ours + ["--labelled", last], None),
                (f"torch {last}", torch + ["--labelled", last], torch_env),
                ("ours all, OPENBLAS_CORETYPE/L2_SIZE unset", ours + ["--labelled", "all"], bare_env),
                ("torch passive all", torch + ["--labelled", "all"], passive_env),
                (f"torch passive {last}", torch + ["--labelled", last], passive_env)]:
            r = run(command, env)
            r["config"] = name
            r["round"] = round_
            results.setdefault(name, []).append(r)
            line = json.dumps(r)
            print(line, flush=True)
            if log:
                log.write(line + "\n")
                log.flush()

    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    def ratio(a_name, b_name, key):
        return statistics.median(x[key] / y[key] for x, y in zip(results[a_name], results[b_name]))

    print(f"# {platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end; {a.rounds} rounds; torch "
          f"{results['torch all'][0]['torch']} ({', '.join(results['torch all'][0]['blas'])})")
    for name in results:
        print(f"# {name}: median {median(name, 'median_ms'):.0f} ms/step, "
              f"peak RSS {median(name, 'peak_rss_bytes') / 2**20:.0f} MiB"
              + (f", {median(name, 'gflops_per_s'):.1f} GFLOP/s = {median(name, 'sgemm_fraction'):.0%} of sgemm"
                 if "gflops_per_s" in results[name][0] else ""))
    for name in results:
        print(f"# {name}: median CPU time {median(name, 'cpu_ms'):.0f} ms/step")
    for mode in ["all", last]:
        for torch_name in ["torch " + mode, "torch passive " + mode]:
            print(f"# ours/{torch_name}: time {ratio('ours ' + mode, torch_name, 'median_ms'):.2f}, CPU time "
                  f"{ratio('ours ' + mode, torch_name, 'cpu_ms'):.2f}, "
                  f"peak RSS {ratio('ours ' + mode, torch_name, 'peak_rss_bytes'):.2f}")


if __name__ == "__main__":
    main()
