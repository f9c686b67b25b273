#!/usr/bin/env python3
"""Checks ONNX files written by siamedge's exporters with the reference tools.

For each graph in DIR/manifest.json (written by
`cargo run -p siamedge-tests --example onnx_check_files -- DIR`):
  1. onnx.checker.check_model(full_check=True) (the ONNX spec, with shape inference);
  2. onnxruntime (CPU) at its default settings (graph optimizations on: QDQ fused into
     QLinearConv, as people run it) and again with graph optimizations disabled, on the recorded
     inputs, batched, each compared
     with the recorded reference outputs: float graphs with tract's, within 1e-5 absolute; QDQ
     graphs (whose output is an int8 embedding times its scale) with the int8 engine's (the
     definition of the int8 math, siamedge-engine; the inputs are exact multiples of the input
     scale, so both runtimes see the same int8 tensor), with cosine >= 0.999 per embedding,
     within two int8 steps everywhere and identical on at least 90% of values. Not bit for bit:
     the engine accumulates in i32 and requantizes with a Q31 multiplier and TFLite's double
     rounding (half away from zero), while onnxruntime requantizes in float with one rounding,
     half to even; a value near a rounding tie lands one step apart, and a step in one layer can
     move a later value by two.
Exits 1 on any failure; prints one line per graph and a closing "N passed, N failed" line.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort


def check(dir_: Path, g: dict) -> list:
    problems = []
    path = dir_ / g["onnx"]
    model = onnx.load(str(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # the checker raises several types
        problems.append(f"onnx.checker: {e}")
    shape = g["shape"]
    x = np.fromfile(dir_ / g["input"], dtype="<f4").reshape(shape)
    want = np.fromfile(dir_ / g["reference"], dtype="<f4").reshape(shape[0], g["dim"])
    ref = g["reference_runtime"]
    details = []
    for optimized in (True, False):
        p, d = compare(path, g, x, want, ref, optimized)
        problems += p
        details.append(d)
    return problems, "; ".join(details)


def compare(path: Path, g: dict, x, want, ref: str, optimized: bool) -> tuple:
    """onnxruntime at its default settings (`optimized`: QDQ fused into QLinearConv and friends)
    or with graph optimizations disabled, against the reference outputs."""
    problems = []
    opts = ort.SessionOptions()
    what = "default options" if optimized else "no optimizations"
    if not optimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    (got,) = sess.run(["embedding"], {"image": x})
    if got.shape != want.shape:
        return [f"{what}: onnxruntime output shape {got.shape}, {ref} {want.shape}"], ""
    diff = np.abs(got - want)
    scale = g.get("scale")
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
    # Two zero embeddings (an input the int8 model maps to 0) agree: cosine 1.
    both_zero = (np.abs(got).max(1) == 0) & (np.abs(want).max(1) == 0)
    cos = np.where(both_zero, 1.0, np.sum(got * want, 1) / (norms + 1e-30))
    if scale is None:
        detail = f"{what}: max |ort - {ref}| = {diff.max():.3e}"
        if diff.max() > 1e-5:
            problems.append(detail + " > 1e-5")
    else:
        steps = diff / scale
        same = float(np.mean(steps < 1e-3))
        detail = (
            f"{what} vs {ref}: max diff {steps.max():.3f} int8 steps, {100 * same:.2f}% identical, "
            f"min cosine {cos.min():.6f}"
        )
        if steps.max() > 2.001 or same < 0.90 or cos.min() < 0.999:
            problems.append(detail)
    return problems, detail


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: check_onnx.py DIR", file=sys.stderr)
        return 2
    dir_ = Path(sys.argv[1])
    manifest = json.loads((dir_ / "manifest.json").read_text())
    print(f"onnx {onnx.__version__}, onnxruntime {ort.__version__}")
    passed = failed = 0
    for g in manifest["graphs"]:
        try:
            problems, detail = check(dir_, g)
        except Exception as e:
            problems, detail = [f"{type(e).__name__}: {e}"], ""
        if problems:
            failed += 1
            print(f"FAIL {g['name']}: " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok   {g['name']}: checker passed, {detail}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
