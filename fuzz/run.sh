#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20) and fails on the first crash.
#
#   fuzz/run.sh [SECONDS]
#
# Uses the stable toolchain with RUSTC_BOOTSTRAP=1 (libFuzzer needs -Zsanitizer flags) and
# installs cargo-fuzz from crates.io when it is missing. Each target starts from the seeds in
# fuzz/corpus/<target>/ and writes what it finds to a scratch directory, so the committed
# corpus stays small. A crash leaves its input in fuzz/artifacts/<target>/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-...
set -euo pipefail

seconds="${1:-20}"
cd "$(dirname "$0")/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

cargo fuzz build
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target" "fuzz/corpus/$target"
    if [ "$target" = model_load ]; then
        # Seeds made here, not committed: the shipped models' files and ONNX graphs (model
        # folders only: a pipeline folder has no model.sgm).
        for m in models/*/; do
            [ -f "$m/model.sgm" ] || continue
            cp "$m/model.sgm" "$scratch/$target/$(basename "$m").sgm"
            cp "$m/model.onnx" "$scratch/$target/$(basename "$m").onnx"
        done
    fi
    if [ "$target" = pipeline ]; then
        # The shipped pipeline files, beside the committed seeds.
        for m in models/*/; do
            if [ -f "$m/pipeline.sgp" ]; then
                cp "$m/pipeline.sgp" "$scratch/$target/$(basename "$m").sgp"
            fi
        done
    fi
    echo "== fuzz target $target: ${seconds}s"
    if ! cargo fuzz run "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
        echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "all fuzz targets ran ${seconds}s each without a crash"
