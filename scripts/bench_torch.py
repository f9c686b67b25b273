#!/usr/bin/env python3
"""PyTorch peer of `siamedge-train bench`: the same network, batch, loss, optimiser, augmentation
and thread count, on the CPU, on the same kind of synthetic data; prints one JSON object (the
`BenchResult` of trainer/src/cli/bench.rs), with the median ms of each phase of a step (data,
forward, backward, optimiser) and the peak RSS.

Without --config, the reference CNN: conv3x3(pad 1, bias) - BatchNorm - ReLU - maxpool2 with
1->16->32->64 channels, flatten (C, H, W), Linear(64 * 7 * 5 -> 64), L2 normalisation; batch-hard
triplet loss, margin 0.5, Euclidean distances from differences (+1e-12 under the root); AdamW lr
1e-3, weight decay 1e-4; P x K = 16 x 4 from 40 synthetic identities x 10 images of 56x46; no
augmentation.

With --config FILE (a `siamedge-train train --config` TOML, e.g. models/face-orl/train.toml), that
recipe: its widths (conv-BN-ReLU-maxpool blocks), dim, input size (56x46 for ORL unless the file
says), loss (batch-hard or CosFace: a class-weight head, cosine logits, s and m), batch and
per-identity, lr and weight decay, and its augmentation (crop-pad shift, flip, brightness and
contrast jitter), as scripts/research/recipe_search.py mirrors it. Default PyTorch settings:
NCHW tensors, no channels_last, no compilation.

Run by scripts/bench-train.sh, which installs torch (PyPI) into a virtual environment.
"""
import argparse
import json
import resource
import time
import tomllib

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


def cosface(e, labels, head, scale, margin):
    wn = head / head.norm(dim=1, keepdim=True)
    cos = e @ wn.t()
    onehot = F.one_hot(labels, head.shape[0]).float()
    return F.cross_entropy(scale * (cos - margin * onehot), labels)


def augment(x, rng, crop_pad, flip, jitter):
    """Shift within a zero pad, mirror half, brightness and contrast jitter: trainer's Augment."""
    n, _, h, w = x.shape
    if crop_pad > 0:
        xp = F.pad(x, (crop_pad, crop_pad, crop_pad, crop_pad))
        dx = rng.integers(0, 2 * crop_pad + 1, n)
        dy = rng.integers(0, 2 * crop_pad + 1, n)
        x = torch.stack([xp[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip:
        m = torch.from_numpy(rng.random(n) < 0.5)
        x = torch.where(m[:, None, None, None], x.flip(-1), x)
    if jitter > 0:
        c = torch.from_numpy(1 + jitter * (2 * rng.random((n, 1, 1, 1), dtype=np.float32) - 1))
        b = torch.from_numpy(1 + jitter * (2 * rng.random((n, 1, 1, 1), dtype=np.float32) - 1))
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (b * (c * (x - mean) + mean)).clamp(0, 1)
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--per-identity", type=int, default=4)
    ap.add_argument("--height", type=int, default=56)
    ap.add_argument("--width", type=int, default=46)
    ap.add_argument("--config", help="a siamedge-train recipe TOML (e.g. models/face-orl/train.toml)")
    a = ap.parse_args()
    recipe = {}
    if a.config:
        with open(a.config, "rb") as f:
            recipe = tomllib.load(f)
        a.batch = recipe.get("batch", 64)
        a.per_identity = recipe.get("per-identity", 4)
        a.height = recipe.get("height", 56)
        a.width = recipe.get("width", 46)
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
    model = Encoder(
        h, w, dim=recipe.get("dim", 64), widths=tuple(recipe.get("widths", (16, 32, 64)))
    )
    params = list(model.parameters())
    head = None
    loss_kind = recipe.get("loss", "batch-hard")
    if loss_kind == "cosface":
        head = nn.Parameter(torch.randn(40, recipe.get("dim", 64)) * 0.1)
        params.append(head)
    elif loss_kind != "batch-hard":
        raise SystemExit(f"bench_torch.py mirrors batch-hard and cosface, not {loss_kind}")
    opt = torch.optim.AdamW(
        params, lr=recipe.get("lr", 1e-3), weight_decay=recipe.get("weight-decay", 1e-4)
    )
    p, k = a.batch // a.per_identity, a.per_identity
    jitter = recipe.get("jitter", 0.0)
    crop_pad, flip = recipe.get("crop-pad", 0), recipe.get("flip", False)
    phases = {"data": [], "forward": [], "backward": [], "optimizer": []}

    def step():
        t0 = time.perf_counter()
        people = rng.choice(40, p, replace=False)
        idx = np.concatenate([c * 10 + rng.choice(10, k, replace=False) for c in people])
        x = images[torch.from_numpy(idx)]
        if recipe:
            x = augment(x, rng, crop_pad, flip, jitter)
        labels = torch.from_numpy(np.repeat(people, k))
        t1 = time.perf_counter()
        e = model(x)
        if head is not None:
            loss = cosface(e, labels, head, recipe.get("cosface-scale", 16.0),
                           recipe.get("cosface-margin", 0.25))
        else:
            loss = batch_hard(e, labels, 0.5)
        value = loss.item()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        for name, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            phases[name].append(1e3 * dt)
        return value

    model.train()
    for _ in range(a.warmup):
        step()
    for v in phases.values():
        v.clear()
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
                "recipe": a.config or "reference",
                "threads": torch.get_num_threads(),
                "batch": p * k,
                "steps": a.steps,
                "images_per_second": p * k * a.steps / seconds,
                "median_ms_per_step": ms[len(ms) // 2],
                "phase_ms": {n: sorted(v)[len(v) // 2] for n, v in phases.items()},
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "mean_loss": float(np.mean(losses)),
            }
        )
    )


if __name__ == "__main__":
    main()
