#!/usr/bin/env bash
# The project's test command (README.md): host tests, the no_std builds for the Cortex-M4F target,
# and a bounded fuzz run of every decoder. Set SIAMEDGE_REQUIRE_DATA=1 to make data-backed tests fail
# (instead of skip) when `siamedge-train data fetch` has not been run.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

echo "== no_std: siamedge-format and siamedge-firmware for thumbv7em-none-eabihf"
cargo build -p siamedge-format -p siamedge-firmware --no-default-features --target thumbv7em-none-eabihf

echo "== fuzz: every decoder for ${FUZZ_SECONDS}s (set FUZZ_SECONDS=0 to skip)"
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  fuzz/run.sh "$FUZZ_SECONDS"
fi

echo "== host tests"
cargo test --workspace

echo "== ONNX: onnx.checker and onnxruntime vs tract on the exported graphs (pinned PyPI venv)"
scripts/check-onnx.sh
