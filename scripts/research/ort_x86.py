#!/usr/bin/env python3
"""onnxruntime on the exported int8 QDQ file, as people run it (default session options).

Measures, on the held-out people of a model's fold (ORL, 10 images each, 4,950 pairs): the cosine
between each image's int8 embedding and its f32 embedding, and the EER of both, for the QDQ file as
exported (`model.int8.onnx`) under onnxruntime's default graph optimizations and with them
disabled. Run it natively and under `qemu-x86_64 -cpu Haswell` (AVX2 without VNNI: the x86 kernels
that saturate 16-bit sums) to see whether a file is x86-safe:

    python3 scripts/research/ort_x86.py models/face-orl [--fold 0]
    qemu-x86_64 -cpu Haswell $(which python3) scripts/research/ort_x86.py models/face-orl

Needs numpy, onnx and onnxruntime (scripts/check-onnx.sh's venv has the pinned ones) and the ORL
faces fetched by `siamedge-train data fetch`.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def read_pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    # Strict binary PGM as the repaired cache holds it: "P5\n<w> <h>\n<max>\n" then w*h bytes.
    fields = data.split(maxsplit=4)
    if fields[0] != b"P5":
        raise SystemExit(f"{path}: not a binary PGM")
    w, h = int(fields[1]), int(fields[2])
    pixels = data[len(data) - w * h :]
    return np.frombuffer(pixels, dtype=np.uint8).reshape(h, w)


def area_half(img: np.ndarray) -> np.ndarray:
    """112x92 -> 56x46: the exact mean of each 2x2 block (REFERENCE.md's area resize)."""
    h, w = img.shape
    return img.reshape(h // 2, 2, w // 2, 2).astype(np.float64).mean(axis=(1, 3)).astype(np.float32)


def eer(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """EER of distances (accept when d <= t): first ROC point with FRR <= FAR, interpolated."""
    ts = np.unique(np.concatenate([genuine, impostor]))
    far = np.array([np.mean(impostor <= t) for t in ts])
    frr = np.array([1.0 - np.mean(genuine <= t) for t in ts])
    i = int(np.argmax(frr <= far))
    if i == 0:
        return float((far[0] + frr[0]) / 2)
    d0, d1 = frr[i - 1] - far[i - 1], frr[i] - far[i]
    a = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(far[i - 1] + a * (far[i] - far[i - 1]))


def session(path: Path, optimize: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--int8", default="model.int8.onnx", help="QDQ file in MODEL_DIR")
    args = ap.parse_args()
    cache = Path(os.environ.get("SIAMEDGE_DATA", Path.home() / ".cache" / "siamedge"))
    card = json.loads((args.model_dir / "card.json").read_text())
    norm = card["architecture"]["normalization"]
    if "[0.0]) / [1.0]" not in norm:
        raise SystemExit(f"this script assumes mean 0, std 1; the card says {norm}")
    people = range(10 * args.fold, 10 * args.fold + 10)
    images, labels = [], []
    for p in people:
        for k in range(1, 11):
            images.append(area_half(read_pgm(cache / "orl" / f"s{p + 1}" / f"{k}.pgm")) / 255.0)
            labels.append(p)
    x = np.stack(images)[:, None, :, :].astype(np.float32)
    labels = np.array(labels)
    iu = np.triu_indices(len(labels), 1)
    same = labels[iu[0]] == labels[iu[1]]

    def embed(path: Path, optimize: bool) -> np.ndarray:
        s = session(path, optimize)
        return np.concatenate([s.run(["embedding"], {"image": x[i : i + 1]})[0] for i in range(len(x))])

    f32 = embed(args.model_dir / "model.onnx", True)
    rows = [("f32 (model.onnx), default options", f32)]
    for optimize, what in [(True, "default options"), (False, "optimizations disabled")]:
        rows.append((f"int8 ({args.int8}), {what}", embed(args.model_dir / args.int8, optimize)))
    print(f"onnxruntime {ort.__version__}, ORL fold {args.fold} held-out people, "
          f"{int(same.sum())} genuine / {int((~same).sum())} impostor pairs")
    for name, e in rows:
        d = np.linalg.norm(e[iu[0]] - e[iu[1]], axis=1)
        cos = np.sum(e * f32, 1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(f32, axis=1))
        print(f"{name:52s} EER {100 * eer(d[same], d[~same]):5.2f} %   "
              f"cosine to f32: min {cos.min():.4f} mean {cos.mean():.4f}")


if __name__ == "__main__":
    sys.exit(main())
