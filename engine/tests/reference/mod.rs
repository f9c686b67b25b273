//! An independent scalar int8 executor over owned `LayerSpec`s, written from the definitions in
//! the format's docs and TFLite's reference kernels with i64/i128/f64 arithmetic, for the engine
//! tests to compare against. It shares no code with the engine.
#![allow(dead_code)]

pub mod random;

use siamedge_format::{Activation, LayerKind, LayerSpec, ModelSpec, Window};

/// An NHWC int8 tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub data: Vec<i8>,
}

impl Tensor {
    pub fn at(&self, y: usize, x: usize, ch: usize) -> i8 {
        self.data[(y * self.w + x) * self.c + ch]
    }
}

/// `round(a * m / 2^31)`, ties toward +infinity; `i32::MAX` for `MIN * MIN`.
pub fn high_mul(a: i32, m: i32) -> i64 {
    if a == i32::MIN && m == i32::MIN {
        return i64::from(i32::MAX);
    }
    let p = i128::from(a) * i128::from(m);
    (p + (1i128 << 30)).div_euclid(1i128 << 31) as i64
}

/// `x / 2^e` rounded to nearest, ties away from zero.
pub fn div_pot(x: i64, e: u32) -> i64 {
    if e == 0 {
        return x;
    }
    let q = (x.abs() + (1i64 << (e - 1))) >> e;
    if x < 0 {
        -q
    } else {
        q
    }
}

/// TFLite's double-rounding requantization of `acc`, plus zero point and clamp. A left shift
/// that leaves i32 wraps (the engine's documented choice where C is undefined).
pub fn requantize(acc: i64, multiplier: i32, shift: i8, zero_point: i8, act: Activation) -> i8 {
    let left = shift.max(0) as u32;
    let right = (-i32::from(shift)).max(0) as u32;
    let a = ((acc as i32) as i64 * (1i64 << left)) as i32;
    let scaled = div_pot(high_mul(a, multiplier), right);
    (scaled + i64::from(zero_point)).clamp(i64::from(act.min), i64::from(act.max)) as i8
}

/// The input coordinate of tap `k` for output `o`, or `None` in the padding.
fn tap(o: usize, k: usize, stride: u16, dilation: u16, pad: u16, size: usize) -> Option<usize> {
    let i = (o * usize::from(stride) + k * usize::from(dilation)) as i64 - i64::from(pad);
    (0..size as i64).contains(&i).then_some(i as usize)
}

fn out_hw(l: &LayerSpec) -> (usize, usize) {
    (usize::from(l.output.h), usize::from(l.output.w))
}

pub fn conv2d(l: &LayerSpec, win: &Window, x: &Tensor) -> Tensor {
    let (oh, ow) = out_hw(l);
    let oc_n = usize::from(l.output.c);
    let (kh, kw) = (usize::from(win.kernel_h), usize::from(win.kernel_w));
    let zp = i64::from(l.input_quant.zero_point);
    let mut data = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for oc in 0..oc_n {
                let mut acc = i64::from(l.bias[oc]);
                for ky in 0..kh {
                    for kx in 0..kw {
                        let (Some(iy), Some(ix)) = (
                            tap(oy, ky, win.stride_h, win.dilation_h, win.padding.top, x.h),
                            tap(ox, kx, win.stride_w, win.dilation_w, win.padding.left, x.w),
                        ) else {
                            continue;
                        };
                        for ic in 0..x.c {
                            let w = l.weights[((oc * kh + ky) * kw + kx) * x.c + ic];
                            acc += i64::from(w) * (i64::from(x.at(iy, ix, ic)) - zp);
                        }
                    }
                }
                data.push(requantize(
                    acc,
                    l.multipliers[oc],
                    l.shifts[oc],
                    l.output_quant.zero_point,
                    l.activation,
                ));
            }
        }
    }
    Tensor {
        h: oh,
        w: ow,
        c: oc_n,
        data,
    }
}

pub fn depthwise(l: &LayerSpec, win: &Window, dm: u16, x: &Tensor) -> Tensor {
    let (oh, ow) = out_hw(l);
    let oc_n = usize::from(l.output.c);
    let (kh, kw) = (usize::from(win.kernel_h), usize::from(win.kernel_w));
    let zp = i64::from(l.input_quant.zero_point);
    let mut data = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for oc in 0..oc_n {
                let ic = oc / usize::from(dm);
                let mut acc = i64::from(l.bias[oc]);
                for ky in 0..kh {
                    for kx in 0..kw {
                        let (Some(iy), Some(ix)) = (
                            tap(oy, ky, win.stride_h, win.dilation_h, win.padding.top, x.h),
                            tap(ox, kx, win.stride_w, win.dilation_w, win.padding.left, x.w),
                        ) else {
                            continue;
                        };
                        let w = l.weights[(ky * kw + kx) * oc_n + oc];
                        acc += i64::from(w) * (i64::from(x.at(iy, ix, ic)) - zp);
                    }
                }
                data.push(requantize(
                    acc,
                    l.multipliers[oc],
                    l.shifts[oc],
                    l.output_quant.zero_point,
                    l.activation,
                ));
            }
        }
    }
    Tensor {
        h: oh,
        w: ow,
        c: oc_n,
        data,
    }
}

pub fn dense(l: &LayerSpec, x: &Tensor) -> Tensor {
    let oc_n = usize::from(l.output.c);
    let depth = x.data.len();
    let zp = i64::from(l.input_quant.zero_point);
    let data = (0..oc_n)
        .map(|oc| {
            let acc = i64::from(l.bias[oc])
                + (0..depth)
                    .map(|k| i64::from(l.weights[oc * depth + k]) * (i64::from(x.data[k]) - zp))
                    .sum::<i64>();
            requantize(
                acc,
                l.multipliers[oc],
                l.shifts[oc],
                l.output_quant.zero_point,
                l.activation,
            )
        })
        .collect();
    Tensor {
        h: 1,
        w: 1,
        c: oc_n,
        data,
    }
}

/// Windowed max (`average == false`) or average (f64, `f64::round` is half away from zero).
pub fn pool(l: &LayerSpec, win: &Window, average: bool, x: &Tensor) -> Tensor {
    let (oh, ow) = out_hw(l);
    let mut data = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for ch in 0..x.c {
                let mut cells = Vec::new();
                for ky in 0..usize::from(win.kernel_h) {
                    for kx in 0..usize::from(win.kernel_w) {
                        if let (Some(iy), Some(ix)) = (
                            tap(oy, ky, win.stride_h, 1, win.padding.top, x.h),
                            tap(ox, kx, win.stride_w, 1, win.padding.left, x.w),
                        ) {
                            cells.push(i64::from(x.at(iy, ix, ch)));
                        }
                    }
                }
                let v = if average {
                    (cells.iter().sum::<i64>() as f64 / cells.len() as f64).round() as i64
                } else {
                    *cells.iter().max().unwrap()
                };
                data.push(clamp(v, l.activation));
            }
        }
    }
    Tensor {
        h: oh,
        w: ow,
        c: x.c,
        data,
    }
}

pub fn global_average(l: &LayerSpec, x: &Tensor) -> Tensor {
    let n = (x.h * x.w) as f64;
    let data = (0..x.c)
        .map(|ch| {
            let sum: i64 = (0..x.h * x.w)
                .map(|p| i64::from(x.data[p * x.c + ch]))
                .sum();
            clamp((sum as f64 / n).round() as i64, l.activation)
        })
        .collect();
    Tensor {
        h: 1,
        w: 1,
        c: x.c,
        data,
    }
}

/// `round(128 * d / |d|)` in f64 (half away from zero), clamped: what the integer algorithm
/// computes exactly.
pub fn l2_normalize(l: &LayerSpec, x: &Tensor) -> Tensor {
    let zp = i64::from(l.input_quant.zero_point);
    let mut data = Vec::new();
    for px in x.data.chunks(x.c) {
        let d: Vec<f64> = px.iter().map(|&v| (i64::from(v) - zp) as f64).collect();
        let norm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
        for v in d {
            let q = if norm == 0.0 {
                0.0
            } else {
                (128.0 * v / norm).round()
            };
            data.push(clamp((q as i64).clamp(-128, 127), l.activation));
        }
    }
    Tensor { data, ..x.clone() }
}

fn clamp(v: i64, act: Activation) -> i8 {
    v.clamp(i64::from(act.min), i64::from(act.max)) as i8
}

/// One layer.
pub fn layer(l: &LayerSpec, x: &Tensor) -> Tensor {
    match &l.kind {
        LayerKind::Conv2d(w) => conv2d(l, w, x),
        LayerKind::DepthwiseConv2d {
            window,
            depth_multiplier,
        } => depthwise(l, window, *depth_multiplier, x),
        LayerKind::Dense => dense(l, x),
        LayerKind::MaxPool2d(w) => pool(l, w, false, x),
        LayerKind::AvgPool2d(w) => pool(l, w, true, x),
        LayerKind::GlobalAvgPool => global_average(l, x),
        LayerKind::L2Normalize => l2_normalize(l, x),
        LayerKind::Reshape => Tensor {
            h: usize::from(l.output.h),
            w: usize::from(l.output.w),
            c: usize::from(l.output.c),
            data: x
                .data
                .iter()
                .map(|&v| clamp(i64::from(v), l.activation))
                .collect(),
        },
    }
}

/// Every layer's output, in order, for model input `input`.
pub fn run(spec: &ModelSpec, input: &[i8]) -> Vec<Tensor> {
    let s = spec.input.shape();
    let mut x = Tensor {
        h: usize::from(s.h),
        w: usize::from(s.w),
        c: usize::from(s.c),
        data: input.to_vec(),
    };
    let mut outs = Vec::new();
    for l in &spec.layers {
        x = layer(l, &x);
        outs.push(x.clone());
    }
    outs
}
