#!/usr/bin/env bash
# Embedding latency (batch 1) and throughput (batch 32) of a shipped model on one thread, in one
# run: the edge's int8 path (the engine on model.sgm: reference kernels and the host SIMD kernels
# of every instruction set the CPU has) and tract f32 on model.onnx (`siamedge bench`),
# beside onnxruntime int8 (model.int8.onnx) and f32 (model.onnx) at default settings with
# intra_op_num_threads=1 (the pinned venv of scripts/check-onnx.sh). Prints one table and the
# ratios of our int8 to onnxruntime's int8 (above 1: we are faster).
#   scripts/bench-edge.sh [MODEL_DIR]   (default models/face-orl)
# A pipeline folder (pipeline.sgp: models/face-aligned, its ONNX files built first by
# `siamedge-train face-api export --onnx-only`) gets the pipeline's table instead: each network
# on tract (`siamedge bench`) beside the same ONNX file on onnxruntime (f32, default settings, one
# thread), and the time per face of both (the landmark passes, the alignment measured by
# `siamedge bench`, the recognition pass).
# A benchmark, not a test: numbers depend on the machine and its load; nothing fails on them.
set -euo pipefail
cd "$(dirname "$0")/.."

model="${1:-models/face-orl}"
python="$(scripts/check-onnx.sh --venv-only)"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
cargo run --quiet --release -p siamedge-edge --bin siamedge -- --model "$model" bench --json --gallery-sizes 0 > "$rows"

"$python" - "$model" "$rows" <<'PY'
import json
import sys
import time

import numpy as np
import onnxruntime as ort

model, rows_file = sys.argv[1], sys.argv[2]
report = json.load(open(rows_file))
rows = report["embed"]
BATCH = 32


def median_ms(run, n):
    for _ in range(min(n, 20)):
        run()
    t = []
    for _ in range(n):
        s = time.perf_counter()
        run()
        t.append(time.perf_counter() - s)
    return 1e3 * float(np.median(t))


def per_second(run_batch):
    run_batch()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < 1.0 or n < 3:
        run_batch()
        n += 1
    return n * BATCH / (time.perf_counter() - start)


def onnxruntime_row(name, path):
    opts = ort.SessionOptions()  # default graph optimizations
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    rng = np.random.default_rng(0)
    x1 = rng.random([1] + shape[1:], dtype=np.float32)
    if isinstance(inp.shape[0], int) and inp.shape[0] == 1:
        xs = [rng.random([1] + shape[1:], dtype=np.float32) for _ in range(BATCH)]
        batch = lambda: [sess.run(None, {inp.name: x}) for x in xs]  # noqa: E731
    else:
        x32 = rng.random([BATCH] + shape[1:], dtype=np.float32)
        batch = lambda: sess.run(None, {inp.name: x32})  # noqa: E731
    return {
        "runtime": name,
        "batch1_ms": median_ms(lambda: sess.run(None, {inp.name: x1}), 2000),
        "batch32_images_per_s": per_second(batch),
    }


if report.get("pipeline"):
    # Rows of `siamedge bench` for a pipeline: one per network (file name first), the geometry,
    # the whole pipeline. onnxruntime runs the same files on the same thread count.
    def tract(prefix):
        return next(r for r in rows if r["step"].startswith(prefix))

    lm, rec = tract("landmarks.onnx"), tract("recognition.onnx")
    geometry, whole = tract("alignment geometry"), tract("whole pipeline")
    passes = int(geometry["step"].split("(")[1].split()[0])
    ort_lm = onnxruntime_row("landmarks.onnx", f"{model}/landmarks.onnx")["batch1_ms"]
    ort_rec = onnxruntime_row("recognition.onnx", f"{model}/recognition.onnx")["batch1_ms"]
    ort_face = passes * ort_lm + geometry["batch1_ms"] + ort_rec
    tract_face = passes * lm["batch1_ms"] + geometry["batch1_ms"] + rec["batch1_ms"]
    print(f"{model} (pipeline), one thread, batch 1, ms")
    print(f"{'step':<56} {'tract':>9} {f'onnxruntime {ort.__version__}':>20} {'ratio':>7}")
    for name, t, o in [
        ("landmarks.onnx, one pass", lm["batch1_ms"], ort_lm),
        ("recognition.onnx", rec["batch1_ms"], ort_rec),
        (f"per face: {passes} landmark passes + geometry + recognition", tract_face, ort_face),
    ]:
        print(f"{name:<56} {t:>9.2f} {o:>20.2f} {o / t:>7.2f}")
    print(f"{'whole pipeline on the edge (image -> template)':<56} {whole['batch1_ms']:>9.2f}")
    print("ratio: onnxruntime ms / tract ms (above 1: tract is faster); geometry "
          f"{geometry['batch1_ms']:.2f} ms is the edge's in both")
    sys.exit(0)

ort_int8 = onnxruntime_row(f"int8 onnxruntime {ort.__version__} (model.int8.onnx)", f"{model}/model.int8.onnx")
ort_f32 = onnxruntime_row(f"f32 onnxruntime {ort.__version__} (model.onnx)", f"{model}/model.onnx")
rows += [ort_int8, ort_f32]

print(f"{model}, one thread")
print(f"{'runtime':<48} {'batch 1 ms':>11} {'batch 32 images/s':>18}")
for r in rows:
    print(f"{r['runtime']:<48} {r['batch1_ms']:>11.3f} {r['batch32_images_per_s']:>18.0f}")
print()
print("ours vs onnxruntime, same precision (above 1: ours is faster)")
for r in rows:
    peer = ort_int8 if r["runtime"].startswith("int8 engine") else ort_f32 if r["runtime"].startswith("f32 tract") else None
    if peer is not None:
        lat = peer["batch1_ms"] / r["batch1_ms"]
        thr = r["batch32_images_per_s"] / peer["batch32_images_per_s"]
        print(f"{r['runtime']:<48} batch 1 x{lat:.2f}, batch 32 x{thr:.2f}  (vs {peer['runtime']})")
PY
