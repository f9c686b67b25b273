#!/usr/bin/env bash
# ONNX files written by siamedge's exporters pass onnx's checker and give the same embeddings on
# onnxruntime as on tract. Makes a venv with pinned PyPI packages (reused between runs), writes the
# graphs with the `onnx_check_files` example (fixtures, plus every models/*/ with a model.sgm), and
# runs scripts/check_onnx.py on them. QDQ graphs are compared with the int8 engine's outputs (the
# definition of the int8 math), float graphs with tract's; onnxruntime runs at its default settings
# and with graph optimizations disabled, natively and on an emulated x86 CPU without VNNI.
#   scripts/check-onnx.sh              the check
#   scripts/check-onnx.sh --venv-only  only make (or reuse) the venv and print its python
#                                      (scripts/bench-edge.sh runs onnxruntime from it)
#   SIAMEDGE_ONNX_VENV  venv folder (default: target/onnx-venv)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${SIAMEDGE_ONNX_VENV:-target/onnx-venv}"
# Pinned: onnx 1.17.0 (opset 22, IR 10), onnxruntime 1.20.1, numpy 2.1.3, protobuf 5.29.3.
pins=(onnx==1.17.0 onnxruntime==1.20.1 numpy==2.1.3 protobuf==5.29.3)
stamp="$venv/.siamedge-pins"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "${pins[*]}" ]]; then
    echo "check-onnx: creating $venv with ${pins[*]}" >&2
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "${pins[@]}"
    echo "${pins[*]}" > "$stamp"
fi
if [[ "${1:-}" == "--venv-only" ]]; then
    echo "$venv/bin/python"
    exit 0
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
model_dirs=()
for d in models/*/; do
    [[ -f "$d/model.sgm" && -f "$d/model.onnx" && -f "$d/model.int8.onnx" ]] && model_dirs+=("${d%/}")
done
cargo run --quiet -p siamedge-tests --example onnx_check_files -- "$out" "${model_dirs[@]}"
"$venv/bin/python" scripts/check_onnx.py "$out"

# The same check on an x86-64 CPU without VNNI, where onnxruntime's u8 x s8 kernels saturate 16-bit
# sums (the reason model.int8.onnx stores uint8): qemu-x86_64's user-mode emulation of a Haswell
# (AVX2, no AVX-512, no VNNI), whatever CPU this machine has.
if [[ "$(uname -m)" == x86_64 ]]; then
    if command -v qemu-x86_64 >/dev/null; then
        echo "check-onnx: again on an emulated AVX2 CPU without VNNI (qemu-x86_64 -cpu Haswell-noTSX)"
        qemu-x86_64 -cpu Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid "$venv/bin/python" scripts/check_onnx.py "$out"
    elif [[ "${SIAMEDGE_REQUIRE_QEMU:-}" == 1 ]]; then
        echo "check-onnx: SIAMEDGE_REQUIRE_QEMU=1 but qemu-x86_64 is missing (apt-get install qemu-user)" >&2
        exit 1
    else
        reason="ONNX check on an x86 CPU without VNNI: qemu-x86_64 is missing (apt-get install qemu-user)"
        echo "skipping: $reason"
        [[ -n "${SIAMEDGE_SKIP_LOG:-}" ]] && echo "$reason" >> "$SIAMEDGE_SKIP_LOG"
    fi
fi
