//! `model.int8.onnx`: a `siamedge-format` int8 model file as a QDQ ONNX graph.
//!
//! What: input `image` f32 `(N, C, H, W)`, the normalized pixels `(p / 255 - mean) / std` of the
//! model's input spec; output `embedding` f32 `(N, D)`, the dequantized int8 embedding
//! (`embedding.scale * q`). Every activation between layers is an 8-bit `QuantizeLinear` /
//! `DequantizeLinear` pair with the model's scale and zero point; every weight is an 8-bit
//! initializer behind a per-axis `DequantizeLinear` (axis 0, the output channel, scales
//! `weight_scale[ch]`); every bias an int32 initializer behind a per-axis `DequantizeLinear` with
//! scales `input_scale * weight_scale[ch]`. A fused activation clamp `[min, max]` becomes `Relu`
//! (when it is exactly ReLU) or `Clip` to `scale * (min - zp) ..= scale * (max - zp)` before the
//! output `QuantizeLinear`, which is the same as clamping the int8 value. `AvgPool2d` and
//! `GlobalAvgPool` round as the engine does (the int8 average over the real cells, half away from
//! zero): the window sum is recovered in float and rounded with `Sign`, `Abs` and `Floor`, so the
//! output `QuantizeLinear` sees an exact int8 value and no tie.
//!
//! The 8-bit tensors are **uint8 offset by 128**: an int8 value `q` with zero point `zp` is stored
//! as `q + 128` with zero point `zp + 128` (weights: zero point 128), which dequantizes to the same
//! real value, so the graph means exactly the int8 model. Why: onnxruntime's default graph
//! optimizations fuse QDQ into `QLinearConv`, and on x86-64 without VNNI its u8 x s8 kernels add
//! pairs of products in saturating 16-bit lanes (`vpmaddubsw`); with full-range int8 weights that
//! moved the shipped face model's embeddings to cosine 0.58 of the f32 ones (EER 5.11 -> 6.44 %).
//! Its u8 x u8 kernels widen to 16 bits before multiplying and do not saturate: the same model as
//! uint8 gives the engine's numbers at default settings (`scripts/research/ort_x86.py`, run under
//! `qemu-x86_64 -cpu Haswell` for an AVX2 machine without VNNI).
//!
//! Layouts: OHWI conv weights are written OIHW; depthwise `[1][kh][kw][C]` as `(C, 1, kh, kw)` with
//! `group = C_in`; `Dense` reads the NHWC-flattened input, so its input is transposed to NHWC
//! before `Flatten` and its weights stay as they are; `Reshape` (NHWC semantics) is `Transpose -
//! Reshape - Transpose`. Tensors stay 4-D NCHW between layers (`Dense` output `(N, D, 1, 1)`).
//!
//! When not: a runtime that ignores per-axis scales (tract 0.22's `DequantizeLinear` reads only the
//! first scale) gives wrong embeddings from this file as it is.

use super::onnx_pb::ModelProto;
use siamedge_format::{Activation, Layer, LayerKind, Model, Quant, Window};

use super::proto::{l2_normalize, Attr, GraphBuilder, INPUT};
use super::ExportError;

/// Scalar scale and zero point initializers of `q`.
fn qparams(g: &mut GraphBuilder, q: Quant) -> (String, String) {
    (
        g.f32s("scale", &[], &[q.scale]),
        g.offset_u8s("zero_point", &[], &[q.zero_point]),
    )
}

fn quantize(g: &mut GraphBuilder, x: &str, q: Quant) -> String {
    let (s, z) = qparams(g, q);
    g.node("QuantizeLinear", &[x, &s, &z], &[])
}

fn dequantize(g: &mut GraphBuilder, x: &str, q: Quant) -> String {
    let (s, z) = qparams(g, q);
    g.node("DequantizeLinear", &[x, &s, &z], &[])
}

/// The float weight `DequantizeLinear(uint8 w + 128, scales, 128, axis=0)` and bias
/// `DequantizeLinear(int32 b, input_scale * scales, 0, axis=0)` of `layer`; `w` already in ONNX
/// layout with `dims`.
fn weights_and_bias(
    g: &mut GraphBuilder,
    layer: &Layer<'_>,
    index: usize,
    w: &[i8],
    dims: &[usize],
) -> Result<(String, String), ExportError> {
    let out_c = usize::from(layer.output.c);
    let scales: Vec<f32> = layer.weight_scales().iter().collect();
    let bias: Vec<i32> = layer.biases().iter().collect();
    if scales.len() != out_c || bias.len() != out_c {
        return Err(ExportError::Layer {
            index,
            kind: layer.kind.name(),
            reason: format!(
                "{} weight scales and {} biases for {out_c} output channels",
                scales.len(),
                bias.len()
            ),
        });
    }
    let wq = g.offset_u8s("w_q", dims, w);
    let ws = g.f32s("w_scale", &[out_c], &scales);
    let wz = g.offset_u8s("w_zero_point", &[out_c], &vec![0; out_c]);
    let wf = g.node(
        "DequantizeLinear",
        &[&wq, &ws, &wz],
        &[("axis", Attr::Int(0))],
    );
    let bq = g.i32s("b_q", &[out_c], &bias);
    let in_scale = layer.input_quant.scale;
    let bias_scales: Vec<f32> = scales.iter().map(|s| in_scale * s).collect();
    let bs = g.f32s("b_scale", &[out_c], &bias_scales);
    let bz = g.i32s("b_zero_point", &[out_c], &vec![0; out_c]);
    let bf = g.node(
        "DequantizeLinear",
        &[&bq, &bs, &bz],
        &[("axis", Attr::Int(0))],
    );
    Ok((wf, bf))
}

fn window_attrs(w: &Window) -> Vec<(&'static str, Attr)> {
    let p = w.padding;
    vec![
        (
            "kernel_shape",
            Attr::Ints(vec![i64::from(w.kernel_h), i64::from(w.kernel_w)]),
        ),
        (
            "strides",
            Attr::Ints(vec![i64::from(w.stride_h), i64::from(w.stride_w)]),
        ),
        (
            "pads",
            Attr::Ints(vec![
                i64::from(p.top),
                i64::from(p.left),
                i64::from(p.bottom),
                i64::from(p.right),
            ]),
        ),
    ]
}

fn dilations(w: &Window) -> (&'static str, Attr) {
    (
        "dilations",
        Attr::Ints(vec![i64::from(w.dilation_h), i64::from(w.dilation_w)]),
    )
}

/// Applies the fused clamp of `layer` to the float output `y` (before its `QuantizeLinear`).
fn activation(g: &mut GraphBuilder, y: &str, act: Activation, out: Quant) -> String {
    if act == Activation::NONE {
        return y.to_string();
    }
    if act == Activation::relu(out) {
        return g.node("Relu", &[y], &[]);
    }
    let real = |q: i8| out.scale * (f32::from(q) - f32::from(out.zero_point));
    let lo = g.f32s("clip_min", &[], &[real(act.min)]);
    let hi = g.f32s("clip_max", &[], &[real(act.max)]);
    g.node("Clip", &[y, &lo, &hi], &[])
}

/// Cells of `win` at output `(oy, ox)` that fall inside an `in_h x in_w` input (pools have no
/// dilation).
fn real_cells(win: &Window, in_h: u16, in_w: u16, oy: usize, ox: usize) -> usize {
    let axis = |o: usize, stride: u16, pad: u16, kernel: u16, size: u16| {
        let start = (o * usize::from(stride)) as i64 - i64::from(pad);
        let lo = start.max(0);
        let hi = (start + i64::from(kernel)).min(i64::from(size));
        (hi - lo).max(0) as usize
    };
    let p = win.padding;
    axis(oy, win.stride_h, p.top, win.kernel_h, in_h)
        * axis(ox, win.stride_w, p.left, win.kernel_w, in_w)
}

/// The engine's average of int8 values (`siamedge_engine::kernels::pool`): `sum(q) / count` over
/// the real cells, rounded half away from zero on the raw int8 values, as a real value
/// `scale * (avg - zp)` that the following `QuantizeLinear` meets exactly. A bare `AveragePool`
/// before `QuantizeLinear` rounds `avg - zp` half to even instead (onnxruntime; tract rounds it
/// half away from zero), a step off on ties, which a later L2 normalization of a short vector
/// magnifies many times. `mean` is the float window sum over `area` cells (padding counted as
/// zeros), `counts` the real cells per output position.
///
/// In float: `sum(q - zp) = Round(mean * area / scale)`, an integer, recovered exactly while the
/// runtime's float sum is within half a step of it (certainly for windows of up to 180 cells,
/// where even the worst-case summation error `255 cells^2 2^-24` stays below 1/2; beyond, a
/// rare step off as a bare `AveragePool`); `S = sum(q - zp) + zp * count = sum(q)`;
/// `avg = Sign(S) * Floor(|S| / count + 1/2)`, exact (a tie `k + 1/2` is representable,
/// anything else is at least `1/count` from one).
fn rounded_average(g: &mut GraphBuilder, mean: &str, area: f32, counts: &str, q: Quant) -> String {
    let to_steps = g.f32s("sum_per_mean", &[], &[area / q.scale]);
    let sum = g.node("Mul", &[mean, &to_steps], &[]);
    let sum = g.node("Round", &[&sum], &[]);
    let zp = g.f32s("zero_point", &[], &[f32::from(q.zero_point)]);
    let zp_cells = g.node("Mul", &[&zp, counts], &[]);
    let sum = g.node("Add", &[&sum, &zp_cells], &[]);
    let sign = g.node("Sign", &[&sum], &[]);
    let abs = g.node("Abs", &[&sum], &[]);
    let avg = g.node("Div", &[&abs, counts], &[]);
    let half = g.f32s("half", &[], &[0.5]);
    let avg = g.node("Add", &[&avg, &half], &[]);
    let avg = g.node("Floor", &[&avg], &[]);
    let avg = g.node("Mul", &[&sign, &avg], &[]);
    let centered = g.node("Sub", &[&avg, &zp], &[]);
    let scale = g.f32s("scale", &[], &[q.scale]);
    g.node("Mul", &[&centered, &scale], &[])
}

/// OHWI `[o][kh][kw][i]` to OIHW `[o][i][kh][kw]`.
fn ohwi_to_oihw(w: &[i8], o: usize, kh: usize, kw: usize, i: usize) -> Vec<i8> {
    let mut out = vec![0i8; w.len()];
    for oc in 0..o {
        for y in 0..kh {
            for x in 0..kw {
                for ic in 0..i {
                    out[((oc * i + ic) * kh + y) * kw + x] = w[((oc * kh + y) * kw + x) * i + ic];
                }
            }
        }
    }
    out
}

/// The float output (before quantization) of one layer whose dequantized input is `a`.
fn layer_output(
    g: &mut GraphBuilder,
    layer: &Layer<'_>,
    index: usize,
    a: &str,
) -> Result<String, ExportError> {
    let (inp, out) = (layer.input, layer.output);
    let (ic, oc) = (usize::from(inp.c), usize::from(out.c));
    Ok(match layer.kind {
        LayerKind::Conv2d(win) => {
            let (kh, kw) = (usize::from(win.kernel_h), usize::from(win.kernel_w));
            let w = ohwi_to_oihw(layer.weights(), oc, kh, kw, ic);
            let (wf, bf) = weights_and_bias(g, layer, index, &w, &[oc, ic, kh, kw])?;
            let mut attrs = window_attrs(&win);
            attrs.push(dilations(&win));
            attrs.push(("group", Attr::Int(1)));
            g.node("Conv", &[a, &wf, &bf], &attrs)
        }
        LayerKind::DepthwiseConv2d { window: win, .. } => {
            let (kh, kw) = (usize::from(win.kernel_h), usize::from(win.kernel_w));
            let src = layer.weights();
            let mut w = vec![0i8; src.len()];
            for o in 0..oc {
                for t in 0..kh * kw {
                    w[o * kh * kw + t] = src[t * oc + o];
                }
            }
            let (wf, bf) = weights_and_bias(g, layer, index, &w, &[oc, 1, kh, kw])?;
            let mut attrs = window_attrs(&win);
            attrs.push(dilations(&win));
            attrs.push(("group", Attr::Int(ic as i64)));
            g.node("Conv", &[a, &wf, &bf], &attrs)
        }
        LayerKind::Dense => {
            let n_in = inp.elements() as usize;
            let (wf, bf) = weights_and_bias(g, layer, index, layer.weights(), &[oc, n_in])?;
            let nhwc = g.node("Transpose", &[a], &[("perm", Attr::Ints(vec![0, 2, 3, 1]))]);
            let flat = g.node("Flatten", &[&nhwc], &[("axis", Attr::Int(1))]);
            let y = g.node("Gemm", &[&flat, &wf, &bf], &[("transB", Attr::Int(1))]);
            let axes = g.i64s("axes", &[2], &[2, 3]);
            g.node("Unsqueeze", &[&y, &axes], &[])
        }
        LayerKind::MaxPool2d(win) => {
            let mut attrs = window_attrs(&win);
            attrs.push(dilations(&win));
            g.node("MaxPool", &[a], &attrs)
        }
        LayerKind::AvgPool2d(win) => {
            let mut attrs = window_attrs(&win);
            attrs.push(("count_include_pad", Attr::Int(1)));
            let mean = g.node("AveragePool", &[a], &attrs);
            let area = usize::from(win.kernel_h) * usize::from(win.kernel_w);
            let (oh, ow) = (usize::from(out.h), usize::from(out.w));
            let counts: Vec<f32> = (0..oh * ow)
                .map(|i| real_cells(&win, inp.h, inp.w, i / ow, i % ow) as f32)
                .collect();
            let counts = g.f32s("cells", &[1, 1, oh, ow], &counts);
            rounded_average(g, &mean, area as f32, &counts, layer.input_quant)
        }
        LayerKind::GlobalAvgPool => {
            let mean = g.node("GlobalAveragePool", &[a], &[]);
            let cells = usize::from(inp.h) * usize::from(inp.w);
            let counts = g.f32s("cells", &[], &[cells as f32]);
            rounded_average(g, &mean, cells as f32, &counts, layer.input_quant)
        }
        LayerKind::L2Normalize => l2_normalize(g, a, 1e-12),
        LayerKind::Reshape => {
            let nhwc = g.node("Transpose", &[a], &[("perm", Attr::Ints(vec![0, 2, 3, 1]))]);
            let shape = g.i64s(
                "shape",
                &[4],
                &[-1, i64::from(out.h), i64::from(out.w), i64::from(out.c)],
            );
            let r = g.node("Reshape", &[&nhwc, &shape], &[]);
            g.node(
                "Transpose",
                &[&r],
                &[("perm", Attr::Ints(vec![0, 3, 1, 2]))],
            )
        }
    })
}

/// The QDQ ONNX graph of the int8 `model` (see the module docs). The model id (hex) is stored in
/// `metadata_props` as `siamedge.model_id`, with `metadata`.
pub fn qdq_onnx(model: &Model<'_>, metadata: &[(&str, String)]) -> Result<ModelProto, ExportError> {
    let mut g = GraphBuilder::new();
    let input = model.input();
    let mut q = quantize(&mut g, INPUT, input.quant);
    for (index, layer) in model.layers().iter().enumerate() {
        let a = dequantize(&mut g, &q, layer.input_quant);
        let y = layer_output(&mut g, layer, index, &a)?;
        let y = activation(&mut g, &y, layer.activation, layer.output_quant);
        q = quantize(&mut g, &y, layer.output_quant);
    }
    let emb = model.embedding();
    let e = dequantize(&mut g, &q, Quant::new(emb.scale, 0));
    let out = g.node("Flatten", &[&e], &[("axis", Attr::Int(1))]);
    let mut meta = vec![(super::MODEL_ID_KEY, hex::encode(model.id().as_bytes()))];
    meta.extend(metadata.iter().cloned());
    Ok(g.finish(
        &out,
        (
            usize::from(input.channels),
            usize::from(input.height),
            usize::from(input.width),
        ),
        usize::from(emb.dim),
        "siamedge int8 encoder (QDQ): normalized image (N, C, H, W) f32 -> dequantized int8 embedding (N, D) f32",
        &meta,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_cells_count_the_window_inside_the_input() {
        // 2x2 stride 1 "same" on 2x2: padding only below and right, as the every-kind fixture.
        let win = Window::new(2, 2, 1, 1).same(siamedge_format::Shape::new(2, 2, 8));
        let cells: Vec<usize> = (0..4)
            .map(|i| real_cells(&win, 2, 2, i / 2, i % 2))
            .collect();
        assert_eq!(cells, [4, 2, 2, 1]);
        // 3x3 stride 2 padded 1 all round on 5x5: corners 4, edges 6, centre 9.
        let mut win = Window::new(3, 3, 2, 2);
        win.padding = siamedge_format::Padding {
            top: 1,
            left: 1,
            bottom: 1,
            right: 1,
        };
        let row = |oy| {
            (0..3)
                .map(|ox| real_cells(&win, 5, 5, oy, ox))
                .collect::<Vec<_>>()
        };
        assert_eq!(row(0), [4, 6, 4]);
        assert_eq!(row(1), [6, 9, 6]);
        assert_eq!(row(2), [4, 6, 4]);
    }

    #[test]
    fn ohwi_to_oihw_moves_each_tap() {
        // o = 2, kh = 1, kw = 2, i = 3: value = 100 o + 10 x + i.
        let mut w = Vec::new();
        for o in 0..2i8 {
            for x in 0..2i8 {
                for i in 0..3i8 {
                    w.push(100 * (o % 2) + 10 * x + i);
                }
            }
        }
        let t = ohwi_to_oihw(&w, 2, 1, 2, 3);
        assert_eq!(&t[..6], &[0, 10, 1, 11, 2, 12]);
        assert_eq!(&t[6..], &[100, 110, 101, 111, 102, 112]);
    }
}
