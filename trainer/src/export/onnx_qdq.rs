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
//! output `QuantizeLinear`, which is the same as clamping the int8 value.
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
            attrs.push(("count_include_pad", Attr::Int(0)));
            g.node("AveragePool", &[a], &attrs)
        }
        LayerKind::GlobalAvgPool => g.node("GlobalAveragePool", &[a], &[]),
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
    let mut meta = vec![("siamedge.model_id", hex::encode(model.id().as_bytes()))];
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
