#!/usr/bin/env bash
# Training throughput of the reference face CNN, candle beside PyTorch, same thread count.
#
#   scripts/bench-train.sh [THREADS] [STEPS]        (defaults: 1 thread, 30 timed steps)
#
# Installs torch from PyPI into a virtual environment ($SIAMEDGE_BENCH_VENV, default
# ~/.cache/siamedge-bench/venv) on first use; CI does not run this. Builds siamedge-train in
# release, runs scripts/bench_torch.py, then `siamedge-train bench --peer` prints both rows and
# the ratio.
set -euo pipefail
threads="${1:-1}"
steps="${2:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${SIAMEDGE_BENCH_VENV:-$HOME/.cache/siamedge-bench/venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch numpy
fi
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
export RAYON_NUM_THREADS="$threads" CANDLE_NUM_THREADS="$threads"
peer="$(mktemp)"
trap 'rm -f "$peer"' EXIT
cargo build --release -q -p siamedge-trainer --bin siamedge-train --manifest-path "$root/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/target}"
"$venv/bin/python" "$root/scripts/bench_torch.py" --threads "$threads" --steps "$steps" > "$peer"
"$target/release/siamedge-train" bench --threads "$threads" --steps "$steps" --peer "$peer"
