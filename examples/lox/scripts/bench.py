#!/usr/bin/env python3
"""Times the book's Lox benchmarks on each backend against clox's times.

Usage: bench.py BENCH_DIR [--reps N] [--gc BACKEND]... [--lox PATH]

BENCH_DIR holds the benchmark programs and a README.md whose table lists
clox's time per program (`| name | seconds |`), as the book's lox-bench
directory does. Each program runs N times per backend (interleaved, so that a noisy
neighbour hurts every backend alike); the median wall time is compared
with clox's. Prints one row per program and the geometric means: per
backend, and of the best backend per program. Programs missing from
BENCH_DIR are skipped with a note; a program without a clox time is timed
without a ratio.
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


NEEDS = ("BENCH_DIR should hold the book's benchmark programs (" +
         ", ".join(f"{p}.lox" for p in PROGRAMS) +
         ") and a README.md whose table gives clox's time for each "
         "(rows `| name | seconds |`), as the book's lox-bench directory does")


def clox_times(readme):
    """clox's seconds per program, from README.md's table ({} if none)."""
    times = {}
    if not readme.is_file():
        return times
    for line in readme.read_text(errors="replace").splitlines():
        m = re.match(r"\|\s*(\w+)\s*\|\s*([0-9.]+)\s*\|", line)
        if m:
            times[m.group(1)] = float(m.group(2))
    return times


def main():
    ap = argparse.ArgumentParser(
        description="Times the book's Lox benchmarks on each backend against clox's times.",
        epilog=NEEDS + ".")
    ap.add_argument("bench_dir", type=pathlib.Path, metavar="BENCH_DIR")
    ap.add_argument("--reps", type=int, default=5, help="runs per program and backend (default 5)")
    ap.add_argument("--gc", action="append", metavar="BACKEND",
                    help="a backend to time (repeatable; default: all four)")
    ap.add_argument("--lox", default="target/release/lox",
                    help="the lox binary (default target/release/lox)")
    a = ap.parse_args()
    if not a.bench_dir.is_dir():
        sys.exit(f"bench.py: {a.bench_dir} is not a directory. {NEEDS}.")
    if not pathlib.Path(a.lox).is_file():
        sys.exit(f"bench.py: no lox binary at {a.lox}: build it with "
                 "`cargo build --release -p lox`, or name it with --lox PATH.")
    if a.reps < 1:
        sys.exit("bench.py: --reps must be at least 1.")
    backends = a.gc or ["refcount", "generational", "tricolor", "nogc"]
    clox = clox_times(a.bench_dir / "README.md")
    programs = [p for p in PROGRAMS if (a.bench_dir / f"{p}.lox").is_file()]
    missing = [p for p in PROGRAMS if p not in programs]
    if not programs:
        sys.exit(f"bench.py: {a.bench_dir} holds none of the programs. {NEEDS}.")
    if missing:
        print(f"bench.py: skipping programs not in {a.bench_dir}: {', '.join(missing)}",
              file=sys.stderr)
    no_clox = [p for p in programs if p not in clox]
    if no_clox:
        print(f"bench.py: no clox time in {a.bench_dir / 'README.md'} for "
              f"{', '.join(no_clox)}: no ratio for them", file=sys.stderr)
    times = {(p, b): [] for p in programs for b in backends}
    for _ in range(a.reps):
        for p in programs:
            for b in backends:
                t0 = time.perf_counter()
                r = subprocess.run([a.lox, "--gc", b, str(a.bench_dir / f"{p}.lox")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                times[(p, b)].append(time.perf_counter() - t0)
                if r.returncode != 0:
                    sys.exit(f"bench.py: {p} on {b} failed (exit {r.returncode}): "
                             f"{r.stderr.decode(errors='replace')}")
    print("| program | clox s | " + " | ".join(f"{b} s" for b in backends) + " | best / clox |")
    print("|---|---|" + "---|" * len(backends) + "---|")
    logs = {b: [] for b in backends}
    best_logs = []
    for p in programs:
        meds = {b: statistics.median(times[(p, b)]) for b in backends}
        if p not in clox:
            cells = " | ".join(f"{meds[b]:.3f}" for b in backends)
            print(f"| {p} | - | {cells} | - |")
            continue
        for b in backends:
            logs[b].append(math.log(meds[b] / clox[p]))
        best = min(meds.values()) / clox[p]
        best_logs.append(math.log(best))
        cells = " | ".join(f"{meds[b]:.3f} ({meds[b] / clox[p]:.2f}x)" for b in backends)
        print(f"| {p} | {clox[p]:.2f} | {cells} | {best:.2f}x |")
    if best_logs:
        gms = " | ".join(f"{math.exp(statistics.mean(logs[b])):.3f}x" for b in backends)
        print(f"| **geometric mean / clox** | | {gms} | "
              f"{math.exp(statistics.mean(best_logs)):.3f}x |")


if __name__ == "__main__":
    main()
