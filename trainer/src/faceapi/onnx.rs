//! Both face-api.js networks as f32 ONNX graphs (opset 13), written from the tfjs weights, for the
//! edge's tract runtime and for any other ONNX runtime.
//!
//! Inputs are NCHW like every other siamedge ONNX file: `image` f32 `(N, 3, 112, 112)` (landmarks)
//! or `(N, 3, 150, 150)` (recognition), RGB 0..255 as `siamedge_format::preprocess::align` builds
//! them (transposed from its NHWC); the graph subtracts [`MEAN_RGB`] and divides by 255 itself.
//! Outputs: `landmarks` `(N, 136)` (relative to the padded square) and `embedding` `(N, 128)` (the
//! raw descriptor, not normalised).
//!
//! The recognition net's conv bias and scale layer are folded into its convolutions in f64
//! (`W' = W * s`, `b' = b * s + t` per output channel); TF 'same' padding at stride 2 becomes
//! `pads = [0, 0, 1, 1]`; a down block's zero row and column and its shortcut's zero channels are
//! `Pad` nodes. Everything else maps one to one.

use super::layers::MEAN_RGB;
use super::recognition::RESIDUAL_PLAN;
use super::tfjs::{TfjsError, TfjsWeights};
use super::{CHIP_SIDE, DESCRIPTOR_DIM, LANDMARK_OUTPUTS, LANDMARK_SIDE};
use crate::export::onnx_pb::ModelProto;
use crate::export::proto::{Attr, GraphBuilder, INPUT, OUTPUT};

/// Output name of the landmark graph.
pub const LANDMARK_OUTPUT: &str = "landmarks";

/// tfjs conv filters `[kh, kw, cin, cout]` -> ONNX `[cout, cin, kh, kw]`.
fn oihw(v: &[f32], k: usize, cin: usize, cout: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for y in 0..k {
        for x in 0..k {
            for i in 0..cin {
                for o in 0..cout {
                    out[((o * cin + i) * k + y) * k + x] = v[((y * k + x) * cin + i) * cout + o];
                }
            }
        }
    }
    out
}

/// `Sub(mean) -> Mul(1/255)` on the NCHW input.
fn normalize(g: &mut GraphBuilder) -> String {
    let mean = g.f32s("mean_rgb", &[1, 3, 1, 1], &MEAN_RGB);
    let x = g.node("Sub", &[INPUT, &mean], &[]);
    let s = g.f32s("inv255", &[], &[1.0 / 255.0]);
    g.node("Mul", &[&x, &s], &[])
}

/// A Conv node; `pads` = `[top, left, bottom, right]`.
#[allow(clippy::too_many_arguments)]
fn conv(
    g: &mut GraphBuilder,
    x: &str,
    w: Vec<f32>,
    dims: [usize; 4],
    bias: Option<&[f32]>,
    stride: i64,
    pads: [i64; 4],
    group: i64,
) -> String {
    let wn = g.f32s("w", &dims, &w);
    let bn = bias.map(|b| g.f32s("b", &[dims[0]], b));
    let mut inputs = vec![x, wn.as_str()];
    if let Some(b) = &bn {
        inputs.push(b);
    }
    let k = dims[2] as i64;
    g.node(
        "Conv",
        &inputs,
        &[
            ("kernel_shape", Attr::Ints(vec![k, k])),
            ("pads", Attr::Ints(pads.to_vec())),
            ("strides", Attr::Ints(vec![stride, stride])),
            ("dilations", Attr::Ints(vec![1, 1])),
            ("group", Attr::Int(group)),
        ],
    )
}

/// A zero `Pad` of an NCHW tensor: `after` = `[C, H, W]` values appended at the end.
fn pad_after(g: &mut GraphBuilder, x: &str, after: [i64; 3]) -> String {
    let pads = g.i64s("pads", &[8], &[0, 0, 0, 0, 0, after[0], after[1], after[2]]);
    g.node("Pad", &[x, &pads], &[])
}

fn padding(same: bool, stride: usize) -> [i64; 4] {
    match (same, stride) {
        (true, 1) => [1; 4],
        (true, _) => [0, 0, 1, 1],
        (false, _) => [0; 4],
    }
}

/// Recognition conv + bias + scale, folded: returns the node's output.
#[allow(clippy::too_many_arguments)]
fn conv_scale(
    g: &mut GraphBuilder,
    w: &TfjsWeights,
    x: &str,
    prefix: &str,
    k: usize,
    cin: usize,
    cout: usize,
    stride: usize,
) -> Result<String, TfjsError> {
    let f = &w
        .get(&format!("{prefix}/conv/filters"), &[k, k, cin, cout])?
        .values;
    let b = &w.get(&format!("{prefix}/conv/bias"), &[cout])?.values;
    let s = &w.get(&format!("{prefix}/scale/weights"), &[cout])?.values;
    let t = &w.get(&format!("{prefix}/scale/biases"), &[cout])?.values;
    let mut weight = oihw(f, k, cin, cout);
    let per = cin * k * k;
    for (o, chunk) in weight.chunks_mut(per).enumerate() {
        for v in chunk {
            *v = (f64::from(*v) * f64::from(s[o])) as f32;
        }
    }
    let bias: Vec<f32> = (0..cout)
        .map(|o| (f64::from(b[o]) * f64::from(s[o]) + f64::from(t[o])) as f32)
        .collect();
    let same = k == 3 && stride == 1;
    Ok(conv(
        g,
        x,
        weight,
        [cout, cin, k, k],
        Some(&bias),
        stride as i64,
        padding(same, stride),
        1,
    ))
}

/// The recognition network (see the module docs).
pub fn recognition_onnx(
    w: &TfjsWeights,
    metadata: &[(&str, String)],
) -> Result<ModelProto, TfjsError> {
    let mut g = GraphBuilder::new();
    let x = normalize(&mut g);
    let x = conv_scale(&mut g, w, &x, "conv32_down", 7, 3, 32, 2)?;
    let x = g.node("Relu", &[&x], &[]);
    let mut x = g.node(
        "MaxPool",
        &[&x],
        &[
            ("kernel_shape", Attr::Ints(vec![3, 3])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    let mut side = ((CHIP_SIDE - 7) / 2 + 1 - 3) / 2 + 1;
    for (name, cin, cout, down) in RESIDUAL_PLAN {
        let stride = if down { 2 } else { 1 };
        let y = conv_scale(
            &mut g,
            w,
            &x,
            &format!("{name}/conv1"),
            3,
            cin,
            cout,
            stride,
        )?;
        let y = g.node("Relu", &[&y], &[]);
        let mut y = conv_scale(&mut g, w, &y, &format!("{name}/conv2"), 3, cout, cout, 1)?;
        let shortcut = if down {
            let conv_side = (side - 3) / 2 + 1;
            let pool_side = side / 2;
            if conv_side != pool_side {
                y = pad_after(&mut g, &y, [0, 1, 1]);
            }
            side = pool_side;
            let p = g.node(
                "AveragePool",
                &[&x],
                &[
                    ("kernel_shape", Attr::Ints(vec![2, 2])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            );
            if cin != cout {
                pad_after(&mut g, &p, [(cout - cin) as i64, 0, 0])
            } else {
                p
            }
        } else {
            x.clone()
        };
        let sum = g.node("Add", &[&shortcut, &y], &[]);
        x = g.node("Relu", &[&sum], &[]);
    }
    let mean = g.node(
        "ReduceMean",
        &[&x],
        &[("axes", Attr::Ints(vec![2, 3])), ("keepdims", Attr::Int(0))],
    );
    let fc = &w.get("fc", &[256, DESCRIPTOR_DIM])?.values;
    let fcn = g.f32s("fc", &[256, DESCRIPTOR_DIM], fc);
    let out = g.node("MatMul", &[&mean, &fcn], &[]);
    Ok(g.finish_as(
        &out,
        (3, CHIP_SIDE, CHIP_SIDE),
        OUTPUT,
        DESCRIPTOR_DIM,
        "face-api.js FaceRecognitionNet (dlib ResNet port): image (N, 3, 150, 150) RGB 0..255 f32 \
         -> embedding (N, 128) raw descriptor",
        metadata,
    ))
}

/// A landmark-net conv: separable (depthwise 3x3 + pointwise 1x1 + bias) or, for `dense0/conv0`,
/// a plain 3x3 conv + bias; TF 'same' padding.
#[allow(clippy::too_many_arguments)] // the graph, the weights and the conv's own six parameters
fn landmark_conv(
    g: &mut GraphBuilder,
    w: &TfjsWeights,
    x: &str,
    prefix: &str,
    cin: usize,
    cout: usize,
    stride: usize,
    plain: bool,
) -> Result<String, TfjsError> {
    let pads = padding(true, stride);
    let bias = &w.get(&format!("{prefix}/bias"), &[cout])?.values;
    if plain {
        let f = &w
            .get(&format!("{prefix}/filters"), &[3, 3, cin, cout])?
            .values;
        return Ok(conv(
            g,
            x,
            oihw(f, 3, cin, cout),
            [cout, cin, 3, 3],
            Some(bias),
            stride as i64,
            pads,
            1,
        ));
    }
    let d = &w
        .get(&format!("{prefix}/depthwise_filter"), &[3, 3, cin, 1])?
        .values;
    let p = &w
        .get(&format!("{prefix}/pointwise_filter"), &[1, 1, cin, cout])?
        .values;
    // depthwise [3, 3, C, 1] -> [C, 1, 3, 3] is oihw with cin = 1, cout = C after viewing the
    // channel axis as the output axis.
    let y = conv(
        g,
        x,
        oihw(d, 3, 1, cin),
        [cin, 1, 3, 3],
        None,
        stride as i64,
        pads,
        cin as i64,
    );
    Ok(conv(
        g,
        &y,
        oihw(p, 1, cin, cout),
        [cout, cin, 1, 1],
        Some(bias),
        1,
        [0; 4],
        1,
    ))
}

/// The landmark network (see the module docs).
pub fn landmark_onnx(
    w: &TfjsWeights,
    metadata: &[(&str, String)],
) -> Result<ModelProto, TfjsError> {
    let mut g = GraphBuilder::new();
    let mut x = normalize(&mut g);
    for (i, (cin, cout)) in [(3, 32), (32, 64), (64, 128), (128, 256)]
        .into_iter()
        .enumerate()
    {
        let p = format!("dense{i}");
        let out1 = landmark_conv(&mut g, w, &x, &format!("{p}/conv0"), cin, cout, 2, i == 0)?;
        let out1 = g.node("Relu", &[&out1], &[]);
        let out2 = landmark_conv(
            &mut g,
            w,
            &out1,
            &format!("{p}/conv1"),
            cout,
            cout,
            1,
            false,
        )?;
        let s12 = g.node("Add", &[&out1, &out2], &[]);
        let in3 = g.node("Relu", &[&s12], &[]);
        let out3 = landmark_conv(&mut g, w, &in3, &format!("{p}/conv2"), cout, cout, 1, false)?;
        let s23 = g.node("Add", &[&out2, &out3], &[]);
        let s123 = g.node("Add", &[&out1, &s23], &[]);
        let in4 = g.node("Relu", &[&s123], &[]);
        let out4 = landmark_conv(&mut g, w, &in4, &format!("{p}/conv3"), cout, cout, 1, false)?;
        let s34 = g.node("Add", &[&out3, &out4], &[]);
        let s234 = g.node("Add", &[&out2, &s34], &[]);
        let s1234 = g.node("Add", &[&out1, &s234], &[]);
        x = g.node("Relu", &[&s1234], &[]);
    }
    let pooled = g.node(
        "AveragePool",
        &[&x],
        &[
            ("kernel_shape", Attr::Ints(vec![7, 7])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    let flat = g.node("Flatten", &[&pooled], &[("axis", Attr::Int(1))]);
    let fw = &w.get("fc/weights", &[256, LANDMARK_OUTPUTS])?.values;
    let fb = &w.get("fc/bias", &[LANDMARK_OUTPUTS])?.values;
    let fwn = g.f32s("fc_w", &[256, LANDMARK_OUTPUTS], fw);
    let fbn = g.f32s("fc_b", &[LANDMARK_OUTPUTS], fb);
    let out = g.node("Gemm", &[&flat, &fwn, &fbn], &[]);
    Ok(g.finish_as(
        &out,
        (3, LANDMARK_SIDE, LANDMARK_SIDE),
        LANDMARK_OUTPUT,
        LANDMARK_OUTPUTS,
        "face-api.js FaceLandmark68Net: image (N, 3, 112, 112) RGB 0..255 f32 -> landmarks (N, \
         136) x0, y0, ... relative to the padded square",
        metadata,
    ))
}

/// Multiply-accumulates of one recognition pass (convolutions and the fc; the pools, adds and
/// scale layers are not counted).
pub fn recognition_macs() -> u64 {
    let conv = |side: u64, cin: u64, cout: u64, k: u64| side * side * cout * cin * k * k;
    let stem_side = ((CHIP_SIDE - 7) / 2 + 1) as u64;
    let mut macs = conv(stem_side, 3, 32, 7);
    let mut side = (stem_side - 3) / 2 + 1;
    let plan: [(u64, u64, bool); 14] = [
        (32, 32, false),
        (32, 32, false),
        (32, 32, false),
        (32, 64, true),
        (64, 64, false),
        (64, 64, false),
        (64, 64, false),
        (64, 128, true),
        (128, 128, false),
        (128, 128, false),
        (128, 256, true),
        (256, 256, false),
        (256, 256, false),
        (256, 256, true),
    ];
    for (cin, cout, down) in plan {
        if down {
            let conv_side = (side - 3) / 2 + 1;
            macs += conv(conv_side, cin, cout, 3) + conv(conv_side, cout, cout, 3);
            // The conv path is padded up to the pooled side when it is smaller.
            side /= 2;
        } else {
            macs += 2 * conv(side, cin, cout, 3);
        }
    }
    macs + 256 * DESCRIPTOR_DIM as u64
}

/// Multiply-accumulates of one landmark pass (convolutions and the fc).
pub fn landmark_macs() -> u64 {
    let mut macs = 0u64;
    let mut side = LANDMARK_SIDE as u64;
    for (i, (cin, cout)) in [(3u64, 32u64), (32, 64), (64, 128), (128, 256)]
        .into_iter()
        .enumerate()
    {
        side = side.div_ceil(2);
        let area = side * side;
        macs += if i == 0 {
            area * cout * cin * 9
        } else {
            area * cin * 9 + area * cin * cout
        };
        macs += 3 * (area * cout * 9 + area * cout * cout);
    }
    macs + 256 * LANDMARK_OUTPUTS as u64
}

#[cfg(test)]
mod tests {
    /// Totals from an independent count (a Python loop over the same plans; the recognition net's
    /// 270.9 M is the "271 M-MAC" of dlib's ResNet at 150x150). The stem alone is 72^2 * 32 * 147
    /// = 24,385,536.
    #[test]
    fn mac_counts_are_pinned() {
        assert_eq!(super::recognition_macs(), 270_854_144);
        assert_eq!(super::landmark_macs(), 51_571_840);
    }
}
