#!/usr/bin/env python3
"""Times the book's Lox benchmarks on each backend against clox's times.

Usage: bench.py BENCH_DIR [--reps N] [--gc BACKEND]... [--lox PATH]

BENCH_DIR holds the benchmark programs and a README.md whose table lists
clox's time per program (`| name | seconds |`), as the book's lox-bench
directory does. Each program runs N times per backend (interleaved, so that a noisy
neighbour hurts every backend alike); the median wall time is compared
with clox's. Prints one row per program and the geometric means: per
backend, and of the best backend per program.
"""
import argparse
import math
import pathlib
import re
import statistics
import subprocess
import sys
import time

PROGRAMS = ["binary_trees", "equality", "fib", "instantiation", "invocation",
            "method_call", "properties", "trees", "zoo"]


def clox_times(readme):
    times = {}
    for line in readme.read_text().splitlines():
        m = re.match(r"\|\s*(\w+)\s*\|\s*([0-9.]+)\s*\|", line)
        if m:
            times[m.group(1)] = float(m.group(2))
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_dir", type=pathlib.Path)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--gc", action="append")
    ap.add_argument("--lox", default="target/release/lox")
    a = ap.parse_args()
    backends = a.gc or ["refcount", "generational", "tricolor", "nogc"]
    clox = clox_times(a.bench_dir / "README.md")
    times = {(p, b): [] for p in PROGRAMS for b in backends}
    for _ in range(a.reps):
        for p in PROGRAMS:
            for b in backends:
                t0 = time.perf_counter()
                r = subprocess.run([a.lox, "--gc", b, str(a.bench_dir / f"{p}.lox")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                times[(p, b)].append(time.perf_counter() - t0)
                if r.returncode != 0:
                    sys.exit(f"{p} on {b} failed: {r.stderr.decode()}")
    print("| program | clox s | " + " | ".join(f"{b} s" for b in backends) + " | best / clox |")
    print("|---|---|" + "---|" * len(backends) + "---|")
    logs = {b: [] for b in backends}
    best_logs = []
    for p in PROGRAMS:
        meds = {b: statistics.median(times[(p, b)]) for b in backends}
        for b in backends:
            logs[b].append(math.log(meds[b] / clox[p]))
        best = min(meds.values()) / clox[p]
        best_logs.append(math.log(best))
        cells = " | ".join(f"{meds[b]:.3f} ({meds[b] / clox[p]:.2f}x)" for b in backends)
        print(f"| {p} | {clox[p]:.2f} | {cells} | {best:.2f}x |")
    gms = " | ".join(f"{math.exp(statistics.mean(logs[b])):.3f}x" for b in backends)
    print(f"| **geometric mean / clox** | | {gms} | "
          f"{math.exp(statistics.mean(best_logs)):.3f}x |")


if __name__ == "__main__":
    main()
