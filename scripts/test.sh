#!/usr/bin/env bash
# The project's test command (README.md): the no_std builds for the Cortex-M4F target, a bounded fuzz
# run of every decoder, the host tests (the QEMU board included) and the ONNX check.
#
#   scripts/test.sh           strict: every test runs. It first checks what the tests need (the
#                             thumbv7em target, the fetched data, qemu-system-arm, defmt-print,
#                             python3 venv) and fails at once, saying what to install or fetch.
#   scripts/test.sh --quick   runs what it can: tests whose data or tools are missing skip, and the
#                             run ends by saying how many skipped and why. Not what CI runs.
#
#   FUZZ_SECONDS   seconds per fuzz target (default 20; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--quick]" >&2; exit 2 ;;
esac

# What the strict run needs, each with the command that provides it.
missing=()
if ! rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  missing+=("the thumbv7em-none-eabihf target: rustup target add thumbv7em-none-eabihf")
fi
data="${SIAMEDGE_DATA:-$HOME/.cache/siamedge}"
for ds in orl mnist fashion-mnist face-api; do
  if [[ ! -f "$data/$ds/manifest.json" ]]; then
    missing+=("the $ds data set in $data: cargo run -p siamedge-trainer --bin siamedge-train -- data fetch")
  fi
done
if ! command -v qemu-system-arm >/dev/null; then
  missing+=("qemu-system-arm (the Cortex-M4F board test): apt-get install qemu-system-arm")
fi
if ! command -v defmt-print >/dev/null && [[ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/defmt-print" ]]; then
  missing+=("defmt-print (decodes the board's defmt frames): cargo install defmt-print@1.2.0 --locked")
fi
if [[ "$(uname -m)" == x86_64 ]] && ! command -v qemu-x86_64 >/dev/null; then
  missing+=("qemu-x86_64 (the ONNX check on an x86 CPU without VNNI): apt-get install qemu-user")
fi
if ! python3 -m venv --help >/dev/null 2>&1; then
  missing+=("python3 with venv and pip (the ONNX check): apt-get install python3-venv python3-pip")
fi

if [[ ${#missing[@]} -gt 0 && $quick -eq 0 ]]; then
  echo "scripts/test.sh: the strict run needs what this machine lacks:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "Install or fetch these (.ci/run does it on a fresh machine), or run scripts/test.sh --quick" >&2
  echo "to skip the tests that need them." >&2
  exit 1
fi

skip_log="$(mktemp)"
trap 'rm -f "$skip_log"' EXIT
if [[ $quick -eq 1 ]]; then
  # Tests that lack their data or tools write one line here (see SIAMEDGE_SKIP_LOG in the tests).
  export SIAMEDGE_SKIP_LOG="$skip_log"
  unset SIAMEDGE_REQUIRE_DATA SIAMEDGE_REQUIRE_QEMU
else
  export SIAMEDGE_REQUIRE_DATA=1 SIAMEDGE_REQUIRE_QEMU=1
fi

if rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  echo "== no_std: siamedge-format, siamedge-engine and siamedge-firmware for thumbv7em-none-eabihf"
  cargo build -p siamedge-format -p siamedge-engine -p siamedge-firmware --no-default-features \
    --target thumbv7em-none-eabihf
else
  echo "== no_std: SKIPPED (no thumbv7em-none-eabihf target)" | tee -a "$skip_log"
fi

echo "== fuzz: every decoder for ${FUZZ_SECONDS}s (set FUZZ_SECONDS=0 to skip)"
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  fuzz/run.sh "$FUZZ_SECONDS"
fi

echo "== host tests"
cargo test --workspace

echo "== ONNX: onnx.checker and onnxruntime vs tract on the exported graphs (pinned PyPI venv)"
if python3 -m venv --help >/dev/null 2>&1; then
  scripts/check-onnx.sh
else
  echo "ONNX check: SKIPPED (python3 has no venv)" | tee -a "$skip_log"
fi

if [[ $quick -eq 1 ]]; then
  skipped=$(wc -l <"$skip_log")
  echo "== quick run: $skipped test(s) or step(s) skipped for missing data or tools"
  if [[ $skipped -gt 0 ]]; then
    sort "$skip_log" | uniq -c | sort -rn
    echo "What the strict run (scripts/test.sh) needs:"
    printf '  - %s\n' "${missing[@]}"
  fi
fi
