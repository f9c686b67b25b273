#!/usr/bin/env python3
"""PyTorch reference for the trainer's fused training kernels (issue: training speed).

Writes trainer/tests/data/conv_block_torch.json: one block of the shipped face recipe
(Conv2d 3x3 padding 1 with bias, BatchNorm2d in training mode, ReLU, MaxPool2d 2), PyTorch's
own modules at their defaults, on fixed inputs and weights, in float64: the output, the
gradients of a fixed scalar loss with respect to the input, the conv weight and the BN weight
and bias, and the running statistics after the step. Odd sizes exercise the dropped row and
column of the pooling. trainer/tests/conv_block_torch.rs runs candle's fused path (the
`conv-rows` custom op, then the `batch-norm-train` op with ReLU and pooling) in float32 on the
same values and compares.

    ~/.cache/siamedge-bench/venv/bin/python scripts/research/conv_block_torch.py

Layouts are the Rust side's where they differ: images (N, H, W, C) channel-last; the conv weight
keeps PyTorch's (C_out, C_in, 3, 3).
"""
import json
import pathlib

import torch

from pair_layers_torch import lcg  # the Rust tests' LCG, one copy

torch.set_default_dtype(torch.float64)
N, H, W, C_IN, C_OUT = 4, 9, 7, 3, 8


def values(shape, seed, scale=1.0, shift=0.0):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([v * scale + shift for v in lcg(n, seed)]).reshape(shape)


def main():
    conv = torch.nn.Conv2d(C_IN, C_OUT, 3, padding=1)
    bn = torch.nn.BatchNorm2d(C_OUT)
    with torch.no_grad():
        conv.weight.copy_(values((C_OUT, C_IN, 3, 3), 2, 0.5))
        conv.bias.copy_(values((C_OUT,), 3, 0.2))
        bn.weight.copy_(values((C_OUT,), 4, 0.5, 1.0))
        bn.bias.copy_(values((C_OUT,), 5, 0.3))
    bn.train()
    x_nhwc = values((N, H, W, C_IN), 1).requires_grad_(True)
    x = x_nhwc.permute(0, 3, 1, 2)
    y = torch.nn.functional.max_pool2d(torch.relu(bn(conv(x))), 2)
    y_nhwc = y.permute(0, 2, 3, 1)
    probe = values(tuple(y_nhwc.shape), 6)
    (y_nhwc * probe).sum().backward()
    flat = lambda t: t.detach().reshape(-1).tolist()
    doc = {
        "source": "scripts/research/conv_block_torch.py, torch " + torch.__version__,
        "shape_nhwc": [N, H, W, C_IN],
        "c_out": C_OUT,
        "x": flat(x_nhwc),
        "conv_weight": flat(conv.weight),
        "conv_bias": flat(conv.bias),
        "bn_weight": flat(bn.weight),
        "bn_bias": flat(bn.bias),
        "probe": flat(probe),
        "y": flat(y_nhwc),
        "y_shape": list(y_nhwc.shape),
        "grad_x": flat(x_nhwc.grad),
        "grad_conv_weight": flat(conv.weight.grad),
        "grad_bn_weight": flat(bn.weight.grad),
        "grad_bn_bias": flat(bn.bias.grad),
        "running_mean": flat(bn.running_mean),
        "running_var": flat(bn.running_var),
    }
    out = pathlib.Path(__file__).resolve().parents[2] / "trainer/tests/data/conv_block_torch.json"
    out.write_text(json.dumps(doc) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
