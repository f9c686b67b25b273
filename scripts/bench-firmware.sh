#!/usr/bin/env bash
# Measures the firmware on an emulated Cortex-M4F (QEMU mps2-an386) and prints a Markdown table:
# flash, static RAM, stack peak, MACs, instructions per inference and per MAC for the reference
# and the DSP kernels, and an estimated latency at 168 MHz beside the ESP32-S3 face recognizer's
# published ~250 ms.
#
# Builds firmware/boards/qemu-mps2-an386 twice (release; reference kernels, then `--features
# dsp`; a third time with `dsp,profile` for the per-layer rows) around models/face-orl/model.sgm when the repository has it, else the fixture encoder
# (the reference CNN's shape, untrained), with test vectors from held-out ORL faces (synthetic
# faces without the data), and runs each under `-icount shift=0`, where QEMU's virtual clock
# advances 1 ns per instruction, so the board's SysTick counts give instructions.
#
# `--flip-average`: the same model with flip averaging turned on (board-vectors --flip-average: a
# version-3 file, two passes per embedding, the keep region in the arena), to measure what it
# costs beside a run without.
#
# Needs: qemu-system-arm, arm-none-eabi-size (Debian: qemu-system-arm binutils-arm-none-eabi), the
# thumbv7em-none-eabihf rustup target. Env: SIAMEDGE_BOARD_TARGET_DIR (default
# <target dir>/qemu-mps2-an386), SIAMEDGE_DATA (the data cache).
set -euo pipefail
FLIP=()
case "${1:-}" in
  "") ;;
  --flip-average) FLIP=(--flip-average) ;;
  *) echo "usage: $0 [--flip-average]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
ROOT="$PWD"
BOARD="$ROOT/firmware/boards/qemu-mps2-an386"
TARGET="${SIAMEDGE_BOARD_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/qemu-mps2-an386}"
WORK="$TARGET/bench"
mkdir -p "$WORK"
for tool in qemu-system-arm arm-none-eabi-size; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install qemu-system-arm binutils-arm-none-eabi)" >&2; exit 1; }
done

echo "== inputs: model and test vectors" >&2
MODEL="$ROOT/models/face-orl/model.sgm"
if [ -f "$MODEL" ] && [ ${#FLIP[@]} -eq 0 ]; then
  MODEL_NAME="models/face-orl/model.sgm"
  cargo run --quiet -p siamedge-tests --bin board-vectors -- --model "$MODEL" --out "$WORK/vectors.bin" >&2
elif [ -f "$MODEL" ]; then
  MODEL_NAME="models/face-orl/model.sgm with flip averaging"
  cargo run --quiet -p siamedge-tests --bin board-vectors -- --model "$MODEL" "${FLIP[@]}" \
    --model-out "$WORK/model.sgm" --out "$WORK/vectors.bin" >&2
  MODEL="$WORK/model.sgm"
else
  MODEL_NAME="fixture encoder (reference CNN shape, untrained; models/face-orl/model.sgm not shipped yet)"
  [ ${#FLIP[@]} -gt 0 ] && MODEL_NAME="$MODEL_NAME with flip averaging"
  cargo run --quiet -p siamedge-tests --bin board-vectors -- --model-out "$WORK/model.sgm" "${FLIP[@]}" \
    --out "$WORK/vectors.bin" >&2
  MODEL="$WORK/model.sgm"
fi
MODEL_BYTES=$(stat -c %s "$MODEL")
VECTORS_BYTES=$(stat -c %s "$WORK/vectors.bin")

# size_of ELF SECTION...: the summed sizes of the named sections.
size_of() {
  local elf=$1; shift
  arm-none-eabi-size -A "$elf" | awk -v names="$*" '
    BEGIN { n = split(names, want, " "); for (i = 1; i <= n; i++) w[want[i]] = 1 }
    ($1 in w) { s += $2 } END { print s + 0 }'
}

# field LINE KEY: the value of KEY=value on a bench line.
field() { sed -n "s/.*[ :]$2=\([^ ]*\).*/\1/p" <<<"$1"; }

declare -A R
for variant in reference dsp; do
  echo "== build: $variant kernels" >&2
  features=()
  [ "$variant" = dsp ] && features=(--features dsp)
  (cd "$BOARD" && env -u RUSTFLAGS CARGO_TARGET_DIR="$TARGET" SIAMEDGE_BOARD_MODEL="$MODEL" \
    SIAMEDGE_BOARD_VECTORS="$WORK/vectors.bin" cargo build --quiet --release "${features[@]}")
  elf="$WORK/board-$variant.elf"
  cp "$TARGET/thumbv7em-none-eabihf/release/siamedge-board-qemu-mps2-an386" "$elf"

  echo "== run: $variant kernels under qemu-system-arm -icount shift=0" >&2
  log="$WORK/run-$variant.log"
  set +e
  timeout 600 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -monitor none \
    -serial null -semihosting-config enable=on,target=native -icount shift=0 -kernel "$elf" >"$log" 2>&1
  status=$?
  set -e
  if [ "$status" != 0 ]; then
    cat "$log" >&2
    echo "error: the $variant board exited with status $status" >&2
    exit 1
  fi
  grep -q "SysTick 40 instructions per tick" "$log" || {
    cat "$log" >&2; echo "error: SysTick is not 40 instructions per tick: no -icount?" >&2; exit 1; }
  line=$(grep '^bench: ' "$log")
  R[$variant,flash]=$(size_of "$elf" .vector_table .text .rodata .data)
  R[$variant,ram]=$(size_of "$elf" .data .bss .uninit)
  R[$variant,arena]=$(field "$line" arena)
  R[$variant,stack]=$(field "$line" stack_peak)
  R[$variant,macs]=$(field "$line" macs)
  R[$variant,n]=$(field "$line" inferences)
  R[$variant,min]=$(field "$line" instructions_min)
  R[$variant,max]=$(field "$line" instructions_max)
  R[$variant,total]=$(field "$line" instructions_total)
  R[$variant,verdicts]=$(grep -c '^verify image.*| match$' "$log" || true)
done

# Per-layer counts: a third build, DSP kernels with `profile` (Engine::invoke_profiled reads the
# clock after each layer). Its own run, so that the clock reads and the different inlining around
# the callback stay out of the totals above.
echo "== build and run: dsp kernels with per-layer profile" >&2
(cd "$BOARD" && env -u RUSTFLAGS CARGO_TARGET_DIR="$TARGET" SIAMEDGE_BOARD_MODEL="$MODEL" \
  SIAMEDGE_BOARD_VECTORS="$WORK/vectors.bin" cargo build --quiet --release --features dsp,profile)
cp "$TARGET/thumbv7em-none-eabihf/release/siamedge-board-qemu-mps2-an386" "$WORK/board-dsp-profile.elf"
timeout 600 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -monitor none \
  -serial null -semihosting-config enable=on,target=native -icount shift=0 \
  -kernel "$WORK/board-dsp-profile.elf" >"$WORK/run-dsp-profile.log" 2>&1 || {
  cat "$WORK/run-dsp-profile.log" >&2; echo "error: the profiled dsp board failed" >&2; exit 1; }

kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
per_mac() { awk -v t="$1" -v n="$2" -v m="$3" 'BEGIN { printf "%.2f", t / (n * m) }'; }
mean() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.0f", t / n }'; }
ms168() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.0f ms", t / n / 168e6 * 1e3 }'; }
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }

echo
echo "Firmware on QEMU mps2-an386 (Cortex-M4F), model: $MODEL_NAME, $(kib "$MODEL_BYTES") file."
echo
row "" "reference kernels" "DSP kernels (SMLAD)"
row "---" "---" "---"
row "flash (vector table + text + rodata + data image)" "$(kib "${R[reference,flash]}")" "$(kib "${R[dsp,flash]}")"
row "of which the model file / the test vectors" "$(kib "$MODEL_BYTES") / $(kib "$VECTORS_BYTES")" "$(kib "$MODEL_BYTES") / $(kib "$VECTORS_BYTES")"
row "flash without the test vectors (the verifier)" "$(kib $(( ${R[reference,flash]} - VECTORS_BYTES )))" "$(kib $(( ${R[dsp,flash]} - VECTORS_BYTES )))"
row "flash without vectors and model (code and constants)" "$(kib $(( ${R[reference,flash]} - VECTORS_BYTES - MODEL_BYTES )))" "$(kib $(( ${R[dsp,flash]} - VECTORS_BYTES - MODEL_BYTES )))"
row "RAM, static (data + bss, arena included)" "$(kib "${R[reference,ram]}")" "$(kib "${R[dsp,ram]}")"
row "of which the arena" "$(kib "${R[reference,arena]}")" "$(kib "${R[dsp,arena]}")"
row "stack peak (painted)" "${R[reference,stack]} B" "${R[dsp,stack]} B"
row "RAM, total (static + stack peak)" "$(kib $(( ${R[reference,ram]} + ${R[reference,stack]} )))" "$(kib $(( ${R[dsp,ram]} + ${R[dsp,stack]} )))"
row "MACs per inference" "${R[reference,macs]}" "${R[dsp,macs]}"
row "instructions per inference (mean of ${R[reference,n]}; min..max)" "$(mean "${R[reference,total]}" "${R[reference,n]}") (${R[reference,min]}..${R[reference,max]})" "$(mean "${R[dsp,total]}" "${R[dsp,n]}") (${R[dsp,min]}..${R[dsp,max]})"
row "instructions per MAC" "$(per_mac "${R[reference,total]}" "${R[reference,n]}" "${R[reference,macs]}")" "$(per_mac "${R[dsp,total]}" "${R[dsp,n]}" "${R[dsp,macs]}")"
row "estimated latency at 168 MHz (1 instruction per cycle)" "$(ms168 "${R[reference,total]}" "${R[reference,n]}")" "$(ms168 "${R[dsp,total]}" "${R[dsp,n]}")"
row "verdicts equal to the host's" "${R[reference,verdicts]} of 2" "${R[dsp,verdicts]} of 2"
row "peer: ESP32-S3 face recognizer (Espressif, published)" "~250 ms" "~250 ms"
echo
echo "Per layer, DSP kernels (instructions per inference; a max pool fused into the convolution before"
echo "it shows only the clock reads, its work is in the convolution's row):"
echo
row4() { printf '| %s | %s | %s | %s |\n' "$@"; }
row4 "layer" "MACs" "instructions" "per MAC"
row4 "---" "---" "---" "---"
grep '^layer: ' "$WORK/run-dsp-profile.log" | while read -r l; do
  row4 "$(field "$l" index) $(field "$l" kind) $(field "$l" output)" "$(field "$l" macs)" \
    "$(field "$l" instructions)" "$(field "$l" per_mac)"
done
echo
echo "Instruction counts are exact (QEMU -icount shift=0, SysTick calibrated at 40 instructions per"
echo "tick). The latency is an estimate and an optimistic one: it assumes one instruction per cycle,"
echo "while a real Cortex-M4 spends 2 cycles on most loads, 2-4 on taken branches, and flash wait"
echo "states at 168 MHz (partly hidden by a prefetch/cache such as STM32's ART); expect 1.3-2x."
echo "Budget (firmware issue): the verifier in <= 256 KiB flash and <= 96 KiB RAM (memory.x enforces"
echo "the RAM at link time); DSP target <= 1.0 instruction per MAC."
