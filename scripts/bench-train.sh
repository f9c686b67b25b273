#!/usr/bin/env bash
# Training throughput, candle beside PyTorch, at each thread count, in one run.
#
#   scripts/bench-train.sh [STEPS] [THREADS...]      (defaults: 30 timed steps; 1 and 2 threads)
#
#   BENCH_CONFIG   the recipe to train (default models/face-orl/train.toml, the shipped face
#                  recipe); `reference` benches the reference CNN instead.
#
# Installs torch from PyPI into a virtual environment ($SIAMEDGE_BENCH_VENV, default
# ~/.cache/siamedge-bench/venv) on first use; CI does not run this. Builds siamedge-train in
# release, then for each thread count runs scripts/bench_torch.py and `siamedge-train bench
# --peer`, which prints both rows (images/s, ms per step split into data, forward, backward and
# optimiser, peak RSS) and the ratio. The two alternate at each thread count, so both see the
# same machine.
set -euo pipefail
steps="${1:-30}"
shift || true
threads_list=("$@")
[ ${#threads_list[@]} -gt 0 ] || threads_list=(1 2)
root="$(cd "$(dirname "$0")/.." && pwd)"
config="${BENCH_CONFIG:-$root/models/face-orl/train.toml}"
venv="${SIAMEDGE_BENCH_VENV:-$HOME/.cache/siamedge-bench/venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet torch numpy
fi
cargo build --release -q -p siamedge-trainer --bin siamedge-train --manifest-path "$root/Cargo.toml"
target="${CARGO_TARGET_DIR:-$root/target}"
config_args=()
if [ "$config" != reference ]; then
    config_args=(--config "$config")
fi
peer="$(mktemp)"
trap 'rm -f "$peer"' EXIT
for threads in "${threads_list[@]}"; do
    echo "== $threads thread(s)"
    OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
        "$venv/bin/python" "$root/scripts/bench_torch.py" --threads "$threads" --steps "$steps" \
        "${config_args[@]}" > "$peer"
    "$target/release/siamedge-train" bench --threads "$threads" --steps "$steps" \
        "${config_args[@]}" --peer "$peer"
done
