#!/usr/bin/env python3
"""PyTorch peer of `siamedge-train bench`: the same reference CNN, batch, loss, optimiser and
thread count, on the CPU, on the same kind of synthetic data; prints one JSON object (the
`BenchResult` of trainer/src/cli/bench.rs).

Network: conv3x3(pad 1, bias) - BatchNorm - ReLU - maxpool2 with 1->16->32->64 channels, flatten
(C, H, W), Linear(64 * 7 * 5 -> 64), L2 normalisation. Loss: batch-hard triplet, margin 0.5,
Euclidean distances from differences (+1e-12 under the root). AdamW lr 1e-3, weight decay 1e-4.
Batches: P x K (16 identities x 4 images) from 40 synthetic identities x 10 images of 56x46.

Run by scripts/bench-train.sh, which installs torch (PyPI) into a virtual environment.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def block(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=True),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class Encoder(nn.Module):
    def __init__(self, h, w, dim=64, widths=(16, 32, 64)):
        super().__init__()
        chans = (1,) + tuple(widths)
        self.blocks = nn.Sequential(*[block(a, b) for a, b in zip(chans, chans[1:])])
        n = len(widths)
        self.fc = nn.Linear(widths[-1] * (h >> n) * (w >> n), dim)

    def forward(self, x):
        x = self.blocks(x).flatten(1)
        return F.normalize(self.fc(x), dim=1)


def batch_hard(e, labels, margin):
    diff = e.unsqueeze(1) - e.unsqueeze(0)
    d = (diff.pow(2).sum(2) + 1e-12).sqrt()
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool)
    with torch.no_grad():
        pos = torch.where(same & ~eye, d, torch.full_like(d, -1.0)).argmax(1)
        neg = torch.where(~same, d, torch.full_like(d, float("inf"))).argmin(1)
    idx = torch.arange(len(labels))
    return F.relu(d[idx, pos] - d[idx, neg] + margin).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--per-identity", type=int, default=4)
    ap.add_argument("--height", type=int, default=56)
    ap.add_argument("--width", type=int, default=46)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    h, w = a.height, a.width
    protos = rng.random((40, 1, h, w), dtype=np.float32)
    images = np.clip(
        np.repeat(protos, 10, axis=0) + 0.3 * (rng.random((400, 1, h, w), dtype=np.float32) - 0.5),
        0.0,
        1.0,
    )
    images = torch.from_numpy(images)
    model = Encoder(h, w)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    p, k = a.batch // a.per_identity, a.per_identity

    def step():
        people = rng.choice(40, p, replace=False)
        idx = np.concatenate([c * 10 + rng.choice(10, k, replace=False) for c in people])
        x = images[torch.from_numpy(idx)]
        labels = torch.from_numpy(np.repeat(people, k))
        loss = batch_hard(model(x), labels, 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for _ in range(a.warmup):
        step()
    ms, losses = [], []
    start = time.perf_counter()
    for _ in range(a.steps):
        t = time.perf_counter()
        losses.append(step())
        ms.append(1e3 * (time.perf_counter() - t))
    seconds = time.perf_counter() - start
    ms.sort()
    print(
        json.dumps(
            {
                "framework": "pytorch",
                "version": torch.__version__,
                "threads": torch.get_num_threads(),
                "batch": p * k,
                "steps": a.steps,
                "images_per_second": p * k * a.steps / seconds,
                "median_ms_per_step": ms[len(ms) // 2],
                "mean_loss": float(np.mean(losses)),
            }
        )
    )


if __name__ == "__main__":
    main()
