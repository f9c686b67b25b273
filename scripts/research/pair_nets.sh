#!/usr/bin/env bash
# The pair-comparison networks on ORL's 4 identity-disjoint folds, several seeds, beside the
# Siamese encoder trained with the same budget: trains, evaluates each seed's 4 folds with
# `siamedge-train eval`, then prints the table (mean and spread over seeds) with
# scripts/research/pair_nets_table.py.
#
#   scripts/research/pair_nets.sh [STEPS] [SEEDS] [ARCHS...]
#   (defaults: 600 steps, seeds "0 1 2", archs cnn merge cross-input norm-corr)
#
# Every run holds 5 of its fold's 30 training people out for validation, which picks the
# checkpoint (every 100 steps); the test people are used by `eval` only. Runs go to
# runs/pair/ARCH-sSEED-fFOLD; two run at once with one thread each.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
steps="${1:-600}"
seeds="${2:-0 1 2}"
shift 2 2>/dev/null || shift $#
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(cnn merge cross-input norm-corr)
cargo build --release -q -p siamedge-trainer --bin siamedge-train --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/siamedge-train"
out="$root/runs/pair"
mkdir -p "$out"
export RAYON_NUM_THREADS=1 CANDLE_NUM_THREADS=1 OMP_NUM_THREADS=1

# One job: an architecture and a seed, its 4 folds in turn, then their evaluation. Jobs run
# seed-major (every architecture's seed 0 first), two at a time.
job() { # arch seed
    local a="$1" s="$2" f run extra=()
    [ "$a" = cnn ] || extra=(--loss binary)
    for f in 0 1 2 3; do
        run="$out/$a-s$s-f$f"
        [ -f "$run/summary.json" ] && continue
        "$bin" train --data orl --arch "$a" "${extra[@]}" --fold "$f" --seed "$s" --steps "$steps" \
            --val-people 5 --out "$run" > "$run.log" 2>&1 || { echo "FAILED $run (see $run.log)"; return 1; }
    done
    local rep="$out/eval-$a-s$s"
    [ -f "$rep/report.json" ] || "$bin" eval --threshold-impostors 4500 --no-plots --out "$rep" \
        --run "$out/$a-s$s-f0" --run "$out/$a-s$s-f1" --run "$out/$a-s$s-f2" --run "$out/$a-s$s-f3" \
        > "$rep.log" 2>&1 || { echo "FAILED eval $rep (see $rep.log)"; return 1; }
    echo "$(date +%T) done $a seed $s"
}
export -f job
export bin out steps
for s in $seeds; do for a in "${archs[@]}"; do echo "$a $s"; done; done | xargs -P 2 -L 1 bash -c 'job $0 $1'
python3 "$root/scripts/research/pair_nets_table.py" "$out"
