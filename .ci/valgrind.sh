#!/usr/bin/env bash
# Runs every test executable of the given packages under valgrind memcheck
# (release build, conformance sizes divided by GC_CONFORMANCE_SCALE).
# Usage: .ci/valgrind.sh PACKAGE...
set -euo pipefail
cd "$(dirname "$0")/.."
export GC_CONFORMANCE_SCALE="${GC_CONFORMANCE_SCALE:-20}"
args=()
for p in "$@"; do args+=(-p "$p"); done
mapfile -t exes < <(cargo test --release "${args[@]}" --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*"' | sed 's/"executable":"//; s/"$//')
[ "${#exes[@]}" -gt 0 ] || { echo "valgrind.sh: no test executables found" >&2; exit 1; }
for exe in "${exes[@]}"; do
    # trybuild runs cargo: nothing of ours to check under valgrind.
    case "$(basename "$exe")" in compile_fail-*) continue ;; esac
    echo "valgrind: $exe"
    valgrind --leak-check=full --error-exitcode=1 --suppressions=.ci/valgrind.supp -q \
        "$exe" --test-threads=1 -q
done
