#!/usr/bin/env python3
"""Prints the pause table of docs/BENCHMARKS.md: the longest and the p99
pause per backend on every gcbench workload and on every Lox benchmark
program, and peak RSS over the live heap.

Usage: pause_table.py [--reps N] [--lox-bench DIR] [--gcbench PATH]
                      [--lox PATH] [--workload W]... [--size S]

--lox-bench DIR is a directory of the book's Lox benchmark programs
(binary_trees.lox, trees.lox, ...); without it only gcbench runs. Each
figure is the median over N repetitions (default 5) of that run's own
figure (its max pause, its p99, its peak RSS), repetitions interleaved
across backends so that a noisy neighbour hurts every backend alike.
Build first: cargo build --release -p gcbench -p lox.
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys

BACKENDS = ["refcount", "generational", "tricolor"]
LOX_PROGRAMS = ["binary_trees", "equality", "fib", "instantiation", "invocation",
                "method_call", "properties", "trees", "zoo"]
UNIT = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def gcbench_runs(a):
    """{(workload, backend): [(max_ms, p99_ms, rss_mb, live_mb)]}"""
    out = {}
    for _ in range(a.reps):
        cmd = [a.gcbench, "--json", "--reps", "1", "--size", a.size]
        for b in BACKENDS:
            cmd += ["--backend", b]
        for w in a.workload or []:
            cmd += ["--workload", w]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"gcbench failed:\n{r.stderr}")
        for line in r.stdout.splitlines():
            d = json.loads(line)
            p = d.get("pauses") or {}
            live = d.get("live_bytes_end") or 0
            out.setdefault((d["workload"], d["backend"]), []).append(
                (p.get("max_us", 0) / 1e3, p.get("p99_us", 0) / 1e3,
                 d["peak_rss_bytes"] / 2**20, live / 2**20))
    return out


def lox_run(a, prog, backend):
    """(max_ms, p99_ms, rss_mb, peak_live_mb) of one run."""
    path = a.lox_bench / f"{prog}.lox"
    p = subprocess.Popen([a.lox, "--gc", backend, "--gc-stats", str(path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 65):
        sys.exit(f"{prog} on {backend} failed:\n{err}")
    worst, p99 = 0.0, 0.0
    for m in re.finditer(r"p99\s+([\d.]+)(ns|us|ms|s)\s.*max\s+([\d.]+)(ns|us|ms|s)", err):
        p99 = max(p99, float(m.group(1)) * UNIT[m.group(2)])
        worst = max(worst, float(m.group(3)) * UNIT[m.group(4)])
    m = re.search(r"peak ([\d.]+) (B|KiB|MiB|GiB)", err)
    scale = {"B": 2**-20, "KiB": 2**-10, "MiB": 1, "GiB": 2**10}
    live = float(m.group(1)) * scale[m.group(2)] if m else 0.0
    return worst, p99, usage.ru_maxrss / 1024, live


def row(name, backend, runs):
    med = [statistics.median(x[i] for x in runs) for i in range(4)]
    # A ratio over a heap of less than a megabyte says nothing.
    ratio = f"{med[2] / med[3]:.1f}x" if med[3] >= 1 else "-"
    return (f"| {name} | {backend} | {med[0]:.2f} | {med[1]:.3f} | {med[2]:.0f} | "
            f"{med[3]:.0f} | {ratio} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lox-bench", type=pathlib.Path)
    ap.add_argument("--gcbench", default="target/release/gcbench")
    ap.add_argument("--lox", default="target/release/lox")
    ap.add_argument("--workload", action="append")
    ap.add_argument("--size", default="10MB", help="unit-latency preset")
    a = ap.parse_args()
    if a.lox_bench and not (a.lox_bench / "binary_trees.lox").is_file():
        sys.exit(f"{a.lox_bench}: not a directory of the Lox benchmark programs "
                 "(binary_trees.lox, trees.lox, ...)")
    print("| workload | backend | max pause ms | p99 pause ms | peak RSS MB | live MB | RSS / live |")
    print("|---|---|---|---|---|---|---|")
    for (w, b), runs in sorted(gcbench_runs(a).items()):
        print(row(w, b, runs))
    if a.lox_bench:
        for prog in LOX_PROGRAMS:
            runs = {b: [] for b in BACKENDS}
            for _ in range(a.reps):
                for b in BACKENDS:
                    runs[b].append(lox_run(a, prog, b))
            for b in BACKENDS:
                print(row(f"lox {prog}", b, runs[b]))


if __name__ == "__main__":
    main()
