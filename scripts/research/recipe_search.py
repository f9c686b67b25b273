#!/usr/bin/env python3
"""Recipe search for the ORL face encoder, on validation people only (a research tool, not CI).

Why: candle on 2 CPU cores trains one fold in minutes, too slow to compare dozens of recipes. This
script mirrors the candle trainer's family (trainer/src/model: conv3x3-BN-ReLU-maxpool2 blocks,
optional depthwise-separable blocks, linear to D, L2-normalised; P x K batches; batch-hard triplet,
CosFace, contrastive; AdamW with linear warm-up and cosine decay; crop / flip / brightness-contrast
jitter) in PyTorch on a GPU, and chooses the recipe by the mean EER over the **validation people** of
the four ORL folds (the 5 highest-numbered training people of each fold, as `--val-people 5` does in
the trainer). Test people are evaluated too and printed for information, never used to choose.
The chosen recipe is then re-trained with `siamedge-train train` (candle); those are the reported
numbers.

Protocol (../shared/REFERENCE.md): people 0..39 in folder order, fold k tests on 10k..10k+9; pixels
resized 112x92 -> 56x46 by the exact 2x2 mean, / 255; EER over all i<j pairs as in trainer/src/eval.

Usage: python3 recipe_search.py --orl ~/.cache/siamedge/orl --out results/ [--workers 16] [--smoke]
"""
import argparse
import itertools
import json
import math
import os
import sys
import time

import numpy as np

H, W = 56, 46


def load_orl(root):
    imgs, labels = [], []
    for person in range(40):
        for k in range(1, 11):
            path = os.path.join(root, f"s{person + 1}", f"{k}.pgm")
            with open(path, "rb") as f:
                data = f.read()
            # P5 header: magic, width, height, maxval, each separated by whitespace.
            parts = data.split(maxsplit=4)
            w, h = int(parts[1]), int(parts[2])
            px = np.frombuffer(data[-w * h:], dtype=np.uint8).reshape(h, w).astype(np.float64)
            small = px.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3)) / 255.0
            imgs.append(small.astype(np.float32))
            labels.append(person)
    return np.stack(imgs)[:, None], np.array(labels)


def eer(dist, same):
    """REFERENCE.md's EER: ROC over distinct distances, first point with FRR <= FAR, interpolated."""
    order = np.argsort(dist, kind="stable")
    d, s = dist[order], same[order]
    g, i = s.sum(), (~s).sum()
    last = np.r_[d[1:] != d[:-1], True]  # ties move together: keep the last of each run
    ta = np.cumsum(s)[last]
    fa = np.cumsum(~s)[last]
    ta = np.r_[0, ta]
    fa = np.r_[0, fa]
    gap = (g - ta) * i - fa * g
    k = int(np.argmax(gap <= 0))
    k = max(k, 1)
    da, db = gap[k - 1], gap[k]
    alpha = da / (da - db) if da > db else 1.0
    far_a, far_b = fa[k - 1] / i, fa[k] / i
    return float(far_a + alpha * (far_b - far_a))


def pair_eer(emb, labels):
    import torch

    d = torch.cdist(emb, emb).cpu().numpy()
    iu = np.triu_indices(len(labels), 1)
    same = (labels[:, None] == labels[None, :])[iu]
    return eer(d[iu], same)


def build(cfg, torch, nn):
    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c = [], 1
            for i, wd in enumerate(cfg["widths"]):
                if cfg["separable"] and i > 0:
                    layers += [
                        nn.Conv2d(c, c, 3, padding=1, groups=c),
                        nn.BatchNorm2d(c),
                        nn.ReLU(),
                        nn.Conv2d(c, wd, 1),
                        nn.BatchNorm2d(wd),
                        nn.ReLU(),
                        nn.MaxPool2d(2),
                    ]
                else:
                    layers += [nn.Conv2d(c, wd, 3, padding=1), nn.BatchNorm2d(wd), nn.ReLU(), nn.MaxPool2d(2)]
                c = wd
            self.body = nn.Sequential(*layers)
            b = len(cfg["widths"])
            self.fc = nn.Linear(c * (H >> b) * (W >> b), cfg["dim"])

        def forward(self, x):
            e = self.fc(self.body(x).flatten(1))
            return e / (e.pow(2).sum(1, keepdim=True) + 1e-12).sqrt()

    return Enc()


def params(cfg):
    c, n = 1, 0
    for i, wd in enumerate(cfg["widths"]):
        if cfg["separable"] and i > 0:
            n += c * 9 + c + c * wd + wd
        else:
            n += c * wd * 9 + wd
        c = wd
    b = len(cfg["widths"])
    return n + (c * (H >> b) * (W >> b) + 1) * cfg["dim"]


def arena(cfg):
    """Largest input + output int8 activation bytes of a layer (the firmware's arena rule)."""
    h, w, c, best = H, W, 1, 0
    for i, wd in enumerate(cfg["widths"]):
        if cfg["separable"] and i > 0:
            best = max(best, 2 * h * w * c, h * w * c + h * w * wd)
        else:
            best = max(best, h * w * c + h * w * wd)
        best = max(best, h * w * wd + (h // 2) * (w // 2) * wd)
        h, w, c = h // 2, w // 2, wd
    return best


def augment(x, cfg, gen, torch):
    n = x.shape[0]
    p = cfg["crop_pad"]
    if p > 0:
        xp = torch.nn.functional.pad(x, (p, p, p, p))
        dx = torch.randint(0, 2 * p + 1, (n,), device=x.device, generator=gen)
        dy = torch.randint(0, 2 * p + 1, (n,), device=x.device, generator=gen)
        rows = dy[:, None] + torch.arange(H, device=x.device)[None]
        cols = dx[:, None] + torch.arange(W, device=x.device)[None]
        ar = torch.arange(n, device=x.device)[:, None, None]
        x = xp[ar, 0, rows[:, :, None], cols[:, None, :]][:, None]
    if cfg["flip"]:
        m = torch.rand(n, device=x.device, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(-1), x)
    j = cfg["jitter"]
    if j > 0:
        c = 1 + j * (2 * torch.rand(n, 1, 1, 1, device=x.device, generator=gen) - 1)
        b = 1 + j * (2 * torch.rand(n, 1, 1, 1, device=x.device, generator=gen) - 1)
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (b * (c * (x - mean) + mean)).clamp(0, 1)
    return x


def loss_fn(cfg, e, y, head, torch):
    if cfg["loss"] == "batch-hard":
        d = torch.cdist(e, e, compute_mode="donot_use_mm_for_euclid_dist")
        same = y[:, None] == y[None, :]
        eye = torch.eye(len(y), dtype=torch.bool, device=e.device)
        pos = torch.where(same & ~eye, d, torch.full_like(d, -1)).max(1).values
        neg = torch.where(~same, d, torch.full_like(d, 1e9)).min(1).values
        return torch.relu(pos - neg + cfg["margin"]).mean()
    if cfg["loss"] == "contrastive":
        d = torch.cdist(e, e, compute_mode="donot_use_mm_for_euclid_dist")
        iu = torch.triu_indices(len(y), len(y), 1, device=e.device)
        dd = d[iu[0], iu[1]]
        s = (y[iu[0]] == y[iu[1]]).float()
        return (s * dd.pow(2) + (1 - s) * torch.relu(cfg["margin"] - dd).pow(2)).mean() / 2
    if cfg["loss"] == "cosface":
        wn = head / head.norm(dim=1, keepdim=True)
        cos = e @ wn.t()
        onehot = torch.nn.functional.one_hot(y, head.shape[0]).float()
        logits = cfg["scale"] * (cos - cfg["cos_margin"] * onehot)
        return torch.nn.functional.cross_entropy(logits, y)
    raise ValueError(cfg["loss"])


def run_one(cfg, fold, x_all, y_all, device):
    import torch
    import torch.nn as nn

    torch.manual_seed(cfg["seed"])
    test = (y_all >= 10 * fold) & (y_all < 10 * fold + 10)
    train_people = sorted(set(y_all[~test].tolist()))
    val_people = set(train_people[-5:])
    if cfg.get("all_train"):
        val_people = set(train_people[-5:])  # still reported, but trained on: not a validation
        tr = ~test
    else:
        tr = ~test & ~np.isin(y_all, list(val_people))
    va = np.isin(y_all, list(val_people))
    xt = torch.tensor(x_all[tr], device=device)
    yt_np = y_all[tr]
    classes = sorted(set(yt_np.tolist()))
    remap = {c: i for i, c in enumerate(classes)}
    yt = torch.tensor([remap[v] for v in yt_np], device=device)
    by_class = [np.nonzero(yt_np == c)[0] for c in classes]

    model = build(cfg, torch, nn).to(device).to(memory_format=torch.channels_last)
    head = None
    ps = list(model.parameters())
    if cfg["loss"] == "cosface":
        head = nn.Parameter(torch.randn(len(classes), cfg["dim"], device=device) * 0.1)
        ps.append(head)
    opt = torch.optim.AdamW(ps, lr=cfg["lr"], weight_decay=cfg["wd"])
    steps, warm = cfg["steps"], 50

    def lr_at(s):
        if s < warm:
            return (s + 1) / warm
        t = (s - warm) / max(1, steps - warm)
        r = cfg.get("min_lr_ratio", 0.01)
        return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    rng = np.random.default_rng(cfg["seed"] * 100 + fold)
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg["seed"] * 100 + fold)
    k = cfg["k"]
    p = cfg["batch"] // k
    model.train()
    curve = []
    for s in range(steps):
        ids = rng.choice(len(classes), p, replace=False)
        idx = np.concatenate([rng.choice(by_class[c], k, replace=len(by_class[c]) < k) for c in ids])
        it = torch.as_tensor(idx, device=device)
        xb = augment(xt[it], cfg, gen, torch)
        e = model(xb)
        loss = loss_fn(cfg, e, yt[it], head, torch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        xv = torch.tensor(x_all[va], device=device)
        xs = torch.tensor(x_all[test], device=device)
        ev, et = model(xv), model(xs)
        evf = ev + model(xv.flip(-1))
        etf = et + model(xs.flip(-1))
    return {
        "val_eer": pair_eer(ev, y_all[va]),
        "test_eer": pair_eer(et, y_all[test]),
        "val_eer_tta": pair_eer(evf, y_all[va]),
        "test_eer_tta": pair_eer(etf, y_all[test]),
        "final_loss": float(loss.item()),
    }


BASE = dict(
    widths=[16, 32, 64], separable=False, dim=64, loss="batch-hard", margin=0.5, scale=16.0,
    cos_margin=0.25, steps=1500, lr=1e-3, wd=1e-4, batch=64, k=4, crop_pad=4, flip=True,
    jitter=0.1, seed=0,
)


def worker(args):
    cfg, fold, orl = args
    import torch

    torch.set_num_threads(1)
    x, y = load_orl(orl)
    t = time.time()
    try:
        r = run_one(cfg, fold, x, y, "cuda" if torch.cuda.is_available() else "cpu")
    except Exception as e:  # keep the search going; the failure is in the results
        r = {"error": repr(e)}
    r["seconds"] = time.time() - t
    return cfg["name"], fold, r


def run_stage(name, cfgs, pool, orl, out, folds):
    jobs = [(c, f, orl) for c in cfgs for f in folds]
    results = {c["name"]: {"cfg": c, "folds": {}} for c in cfgs}
    for cname, fold, r in pool.imap_unordered(worker, jobs):
        results[cname]["folds"][fold] = r
        print(f"[{name}] {cname} fold {fold}: {r}", flush=True)
    for c in cfgs:
        f = results[c["name"]]["folds"]
        ok = [f[k] for k in folds if "val_eer" in f.get(k, {})]
        results[c["name"]]["mean_val_eer"] = float(np.mean([v["val_eer"] for v in ok])) if len(ok) == len(folds) else None
        results[c["name"]]["mean_test_eer"] = float(np.mean([v["test_eer"] for v in ok])) if len(ok) == len(folds) else None
        for key in ("val_eer_tta", "test_eer_tta"):
            results[c["name"]]["mean_" + key] = float(np.mean([v[key] for v in ok])) if len(ok) == len(folds) else None
        results[c["name"]]["per_fold_test"] = [f[k].get("test_eer") for k in folds]
        results[c["name"]]["params"] = params(c)
        results[c["name"]]["arena"] = arena(c)
    with open(os.path.join(out, f"{name}.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    ranked = sorted((r for r in results.values() if r["mean_val_eer"] is not None), key=lambda r: r["mean_val_eer"])
    print(f"== {name}: ranked by mean validation EER (test shown, not used)")
    for r in ranked:
        print(f"  {r['cfg']['name']:44s} val {100 * r['mean_val_eer']:5.2f}% (tta {100 * r['mean_val_eer_tta']:5.2f}%)  test {100 * r['mean_test_eer']:5.2f}% (tta {100 * r['mean_test_eer_tta']:5.2f}%) folds {[round(100 * v, 1) for v in r['per_fold_test']]}  params {r['params']}")
    return ranked


def variant(base, name, **kw):
    c = dict(base)
    c.update(kw)
    c["name"] = name
    return c


def fits_mcu(c):
    # model file <= 128 KiB (int8 weights + per-channel metadata) and arena <= 64 KiB
    return params(c) <= 115_000 and arena(c) <= 64 * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orl", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--stage4", action="store_true", help="refine around stage 3's pick (second session)")
    ap.add_argument("--budget", type=float, default=420.0, help="seconds; later stages are skipped past it")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    import multiprocessing as mp

    t0 = time.time()
    folds = [0, 1, 2, 3]
    ctx = mp.get_context("spawn")
    with ctx.Pool(a.workers) as pool:
        if a.smoke:
            run_stage("smoke", [variant(BASE, "smoke", steps=20), variant(BASE, "smoke-cos", steps=20, loss="cosface"),
                                variant(BASE, "smoke-con", steps=20, loss="contrastive", margin=1.0, separable=True)], pool, a.orl, a.out, [0])
            return
        if a.stage4:
            best = variant(BASE, "A", widths=[16, 32, 64, 64], dim=128, loss="cosface", k=8, steps=3000)
            n = "A"
            cands = [
                best,
                variant(best, n + "+6000", steps=6000),
                variant(best, n + "+s32", scale=32.0),
                variant(best, n + "+m0.35", cos_margin=0.35),
                variant(best, n + "+k5", k=5, batch=60),
                variant(best, n + "+k10", k=10, batch=60),
                variant(best, n + "+b128", batch=128),
                variant(best, n + "+d64", dim=64),
                variant(best, n + "+sep-16-48-96-192", widths=[16, 48, 96, 192], separable=True, dim=64),
                variant(best, n + "+seed1", seed=1),
                variant(best, n + "+wd5e-4", wd=5e-4),
                variant(best, n + "+nojit", jitter=0.0),
            ]
            r4 = run_stage("stage4-refine", cands, pool, a.orl, a.out, folds)
            pick = r4[0]["cfg"]
            print(f"stage 4 pick: {pick['name']}  {time.time() - t0:.0f}s", flush=True)
            finals = [variant(pick, pick["name"] + "+all30", all_train=True),
                      variant(pick, pick["name"] + "+all30+seed1", all_train=True, seed=1)]
            run_stage("final-all30", finals, pool, a.orl, a.out, folds)
            return
        # Stage 1: architectures that fit the MCU budget (and the reference CNN as a yardstick).
        archs = [
            variant(BASE, "ref-16-32-64-d64"),
            variant(BASE, "16-32-64-d32", dim=32),
            variant(BASE, "16-32-64-64-d64", widths=[16, 32, 64, 64]),
            variant(BASE, "16-32-64-64-d128", widths=[16, 32, 64, 64], dim=128),
            variant(BASE, "sep-16-32-64-128-d128", widths=[16, 32, 64, 128], separable=True, dim=128),
            variant(BASE, "sep-16-48-96-192-d64", widths=[16, 48, 96, 192], separable=True),
            variant(BASE, "sep5-16-32-64-128-256-d128", widths=[16, 32, 64, 128, 256], separable=True, dim=128),
            variant(BASE, "5b-16-32-64-64-64-d128", widths=[16, 32, 64, 64, 64], dim=128),
            variant(BASE, "compact-8-16-32-32-d64", widths=[8, 16, 32, 32], separable=True),
        ]
        r1 = run_stage("stage1-arch", archs, pool, a.orl, a.out, folds)
        best = next(r["cfg"] for r in r1 if fits_mcu(r["cfg"]))
        print(f"stage 1 pick (MCU-fit): {best['name']}  {time.time() - t0:.0f}s", flush=True)
        # Stage 2: losses on that architecture.
        n = best["name"]
        losses = [
            variant(best, n + "+bh0.2", margin=0.2),
            variant(best, n + "+bh1.0", margin=1.0),
            variant(best, n + "+cos16-0.25", loss="cosface"),
            variant(best, n + "+cos32-0.35", loss="cosface", scale=32.0, cos_margin=0.35),
            variant(best, n + "+contrastive1.0", loss="contrastive", margin=1.0),
        ]
        r2 = run_stage("stage2-loss", losses + [best], pool, a.orl, a.out, folds)
        best = r2[0]["cfg"]
        print(f"stage 2 pick: {best['name']}  {time.time() - t0:.0f}s", flush=True)
        if time.time() - t0 > a.budget:
            return
        n = best["name"]
        opts = [
            best,
            variant(best, n + "+3000", steps=3000),
            variant(best, n + "+6000", steps=6000),
            variant(best, n + "+lr3e-3", lr=3e-3),
            variant(best, n + "+wd5e-4-3000", wd=5e-4, steps=3000),
            variant(best, n + "+k8-3000", k=8, steps=3000),
            variant(best, n + "+k2-3000", k=2, steps=3000),
            variant(best, n + "+crop6-jit0.2-3000", crop_pad=6, jitter=0.2, steps=3000),
        ]
        r3 = run_stage("stage3-opt", opts, pool, a.orl, a.out, folds)
        print(f"stage 3 pick: {r3[0]['cfg']['name']}  {time.time() - t0:.0f}s", flush=True)
        with open(os.path.join(a.out, "pick.json"), "w") as fh:
            json.dump(r3[0], fh, indent=1)


if __name__ == "__main__":
    main()
