#!/usr/bin/env python3
"""PyTorch reference for the pair-comparison layers of trainer/src/model (issue: pair networks).

Writes trainer/tests/data/pair_layers_torch.json: fixed inputs, summary weights, the forward
outputs and the gradients of a fixed scalar loss, computed in float64 by an independent
implementation (torch.nn.functional.unfold, i.e. explicit patches, where the Rust side uses
shifted views and box sums). trainer/tests/pair_layers_torch.rs checks candle against it.

    target/bench-venv/bin/python scripts/research/pair_layers_torch.py  (torch from PyPI)

Layouts are the Rust side's: maps (N, H, W, C) channel-last; comparison output channel
o * C + c for window offset o (row-major from (-r, -r)) and channel c.
"""
import json
import pathlib

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
N, H, W, C = 2, 5, 4, 3
K_ND = 3  # neighbourhood side
P_NC, S_NC, EPS = 3, 3, 0.01  # patch side, search side, eps
SUMMARY = 4


def lcg(n, seed):
    """The Rust tests' LCG: values in [-1, 1)."""
    m = (1 << 64) - 1
    s = (seed * 6364136223846793005 + 1442695040888963407) & m
    out = []
    for _ in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & m
        out.append(((s >> 11) / float(1 << 53)) * 2.0 - 1.0)
    return out


def tensor(shape, seed):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor(lcg(n, seed)).reshape(shape).requires_grad_(True)


def neighborhoods(x_nhwc, k):
    """(N, H, W, C) -> (N, H, W, k*k, C): the k x k neighbourhood of every position, zeros outside."""
    x = x_nhwc.permute(0, 3, 1, 2)  # NCHW
    cols = F.unfold(x, k, padding=k // 2)  # (N, C*k*k, H*W), channel-major then offset
    cols = cols.reshape(N, C, k * k, H, W)
    return cols.permute(0, 3, 4, 2, 1)


def neighborhood_differences(f, g, k):
    d = f.unsqueeze(3) - neighborhoods(g, k)  # (N, H, W, k*k, C)
    return d.reshape(N, H, W, k * k * C)


def normalized_correlation(f, g, p, s, eps):
    rp, rs = p // 2, s // 2
    # Patches of f around each position: (N, H, W, p*p, C).
    pf = neighborhoods(f, p)
    # Patches of g around every position of g padded by rs: unfold the padded map.
    gp = F.pad(g.permute(0, 3, 1, 2), (rs, rs, rs, rs))  # NCHW, (H+2rs, W+2rs)
    hp, wp = H + 2 * rs, W + 2 * rs
    cols = F.unfold(gp, p, padding=rp).reshape(N, C, p * p, hp, wp).permute(0, 3, 4, 2, 1)
    mf = pf.mean(3)
    vf = (pf * pf).mean(3) - mf * mf
    out = []
    for dy in range(-rs, rs + 1):
        for dx in range(-rs, rs + 1):
            pg = cols[:, rs + dy : rs + dy + H, rs + dx : rs + dx + W]  # (N, H, W, p*p, C)
            mg = pg.mean(3)
            vg = (pg * pg).mean(3) - mg * mg
            cov = (pf * pg).mean(3) - mf * mg
            out.append(cov / torch.sqrt((vf + eps) * (vg + eps)))
    return torch.cat(out, 3)


def summary(x, w, b):
    return torch.relu(x @ w.T + b)


def case(name, out_fn, c_out):
    f, g = tensor((N, H, W, C), 101), tensor((N, H, W, C), 102)
    w, b = tensor((SUMMARY, c_out), 103), tensor((SUMMARY,), 104)
    y = out_fn(f, g)
    z = summary(y, w, b)
    r = torch.tensor(lcg(z.numel(), 105)).reshape(z.shape)
    loss = (z * r).sum()
    loss.backward()
    flat = lambda t: t.detach().reshape(-1).tolist()
    return {
        "name": name,
        "f": flat(f),
        "g": flat(g),
        "weight": flat(w),
        "bias": flat(b),
        "r": flat(r),
        "output": flat(y),
        "summary": flat(z),
        "loss": loss.item(),
        "grad_f": flat(f.grad),
        "grad_g": flat(g.grad),
        "grad_w": flat(w.grad),
        "grad_b": flat(b.grad),
    }


def main():
    cases = [
        case("neighborhood_differences", lambda f, g: neighborhood_differences(f, g, K_ND), K_ND * K_ND * C),
        case("normalized_correlation", lambda f, g: normalized_correlation(f, g, P_NC, S_NC, EPS), S_NC * S_NC * C),
        case("merge_concat", lambda f, g: torch.cat([f, g], 3), 2 * C),
        case("merge_abs_diff", lambda f, g: (f - g).abs(), C),
    ]
    doc = {
        "generator": "scripts/research/pair_layers_torch.py",
        "torch": torch.__version__,
        "shape_nhwc": [N, H, W, C],
        "seeds": {"f": 101, "g": 102, "weight": 103, "bias": 104, "loss_weights": 105},
        "nd_window": K_ND,
        "nc_patch": P_NC,
        "nc_search": S_NC,
        "nc_eps": EPS,
        "summary_channels": SUMMARY,
        "loss": "sum(relu(y @ weight.T + bias) * r)",
        "cases": cases,
    }
    out = pathlib.Path(__file__).resolve().parents[2] / "trainer/tests/data/pair_layers_torch.json"
    out.write_text(json.dumps(doc) + "\n")
    print(f"wrote {out} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
