//! `model.onnx`: the trained f32 encoder as an ONNX graph.
//!
//! What: input `image` f32 `(N, C, H, W)`, pixels as training feeds them (`p / 255` for the
//! built-in data sets); output `embedding` f32 `(N, D)`. Each batch normalisation (evaluation mode:
//! running statistics) is folded into the convolution before it, in f64:
//! `W' = W * s`, `b' = (b - mean) * s + beta` with `s = gamma / sqrt(var + eps)` per output channel.
//! Standard block: `Conv 3x3 pad 1 - Relu - MaxPool 2x2/2`; separable block: `Conv 3x3 pad 1
//! group C - Relu - Conv 1x1 - Relu - MaxPool 2x2/2`; then `Flatten` (C, H, W order, as the encoder
//! flattens) `- Gemm (transB) -` and, when the encoder normalises, `x / sqrt(sum x^2 + 1e-12)`.
//!
//! When not: for the pair-scoring networks (2-channel, hybrid): they have no embedding to export.

use super::onnx_pb::ModelProto;
use candle_core::{DType, Tensor};

use super::proto::{l2_normalize, Attr, GraphBuilder, INPUT};
use super::ExportError;
use crate::model::batch_norm::BatchNorm;
use crate::model::encoder::{Block, Encoder};

fn values(t: &Tensor, what: &'static str) -> Result<Vec<f32>, ExportError> {
    t.to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(|source| ExportError::Candle { what, source })
}

/// A convolution with its batch normalisation folded in: `(weight, dims, bias)`.
struct Folded {
    weight: Vec<f32>,
    dims: [usize; 4],
    bias: Vec<f32>,
}

/// Folds `bn` into a convolution of `weight` (`(C_out, ...)`, any trailing dims) and `bias`.
fn fold(
    weight: &Tensor,
    bias: Option<&Tensor>,
    bn: &BatchNorm,
    what: &'static str,
) -> Result<Folded, ExportError> {
    let dims: [usize; 4] = weight
        .dims4()
        .map_err(|source| ExportError::Candle { what, source })?
        .into();
    let w = values(weight, what)?;
    let c_out = dims[0];
    let b = match bias {
        Some(b) => values(b, what)?,
        None => vec![0.0; c_out],
    };
    let (gamma, beta) = bn.weight_and_bias();
    let (gamma, beta) = (values(gamma, what)?, values(beta, what)?);
    let (mean, var) = (
        values(bn.running_mean(), what)?,
        values(bn.running_var(), what)?,
    );
    for (field, len) in [
        ("bias", b.len()),
        ("bn.weight", gamma.len()),
        ("bn.bias", beta.len()),
        ("bn.running_mean", mean.len()),
        ("bn.running_var", var.len()),
    ] {
        if len != c_out {
            return Err(ExportError::Shape {
                what,
                field,
                expected: c_out,
                found: len,
            });
        }
    }
    let per = w.len() / c_out.max(1);
    let mut weight = Vec::with_capacity(w.len());
    let mut bias = Vec::with_capacity(c_out);
    for o in 0..c_out {
        let s = f64::from(gamma[o]) / (f64::from(var[o]) + bn.eps()).sqrt();
        weight.extend(
            w[o * per..(o + 1) * per]
                .iter()
                .map(|&v| (f64::from(v) * s) as f32),
        );
        bias.push(((f64::from(b[o]) - f64::from(mean[o])) * s + f64::from(beta[o])) as f32);
    }
    Ok(Folded { weight, dims, bias })
}

fn conv(g: &mut GraphBuilder, x: &str, f: &Folded, pad: i64, group: i64) -> String {
    let w = g.f32s("w", &f.dims, &f.weight);
    let b = g.f32s("b", &[f.dims[0]], &f.bias);
    let k = f.dims[2] as i64;
    g.node(
        "Conv",
        &[x, &w, &b],
        &[
            ("kernel_shape", Attr::Ints(vec![k, k])),
            ("pads", Attr::Ints(vec![pad; 4])),
            ("strides", Attr::Ints(vec![1, 1])),
            ("dilations", Attr::Ints(vec![1, 1])),
            ("group", Attr::Int(group)),
        ],
    )
}

fn max_pool(g: &mut GraphBuilder, x: &str) -> String {
    g.node(
        "MaxPool",
        &[x],
        &[
            ("kernel_shape", Attr::Ints(vec![2, 2])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    )
}

/// The float ONNX graph of `encoder` (see the module docs). `metadata` is stored in the model's
/// `metadata_props` (e.g. the run it came from).
pub fn float_onnx(
    encoder: &Encoder,
    metadata: &[(&str, String)],
) -> Result<ModelProto, ExportError> {
    let cfg = encoder.config();
    let mut g = GraphBuilder::new();
    let mut x = INPUT.to_string();
    for block in encoder.blocks() {
        x = match block {
            Block::Standard(b) => {
                let f = fold(b.conv().weight(), b.conv().bias(), b.bn(), "conv block")?;
                let y = conv(&mut g, &x, &f, b.conv().padding() as i64, 1);
                let y = g.node("Relu", &[&y], &[]);
                max_pool(&mut g, &y)
            }
            Block::Separable(b) => {
                let dw = fold(b.dw().weight(), None, b.dw_bn(), "depthwise conv")?;
                let channels = dw.dims[0] as i64;
                let y = conv(&mut g, &x, &dw, 1, channels);
                let y = g.node("Relu", &[&y], &[]);
                let pw = fold(b.pw().weight(), b.pw().bias(), b.pw_bn(), "pointwise conv")?;
                let y = conv(&mut g, &y, &pw, b.pw().padding() as i64, 1);
                let y = g.node("Relu", &[&y], &[]);
                max_pool(&mut g, &y)
            }
        };
    }
    let flat = g.node("Flatten", &[&x], &[("axis", Attr::Int(1))]);
    let fc = encoder.fc();
    let w = values(fc.weight(), "fc")?;
    let bias = fc
        .bias()
        .map(|b| values(b, "fc"))
        .transpose()?
        .unwrap_or_else(|| vec![0.0; cfg.embedding_dim]);
    let (d, f) = (cfg.embedding_dim, cfg.feature_len());
    if w.len() != d * f {
        return Err(ExportError::Shape {
            what: "fc",
            field: "weight",
            expected: d * f,
            found: w.len(),
        });
    }
    let wn = g.f32s("fc_w", &[d, f], &w);
    let bn = g.f32s("fc_b", &[d], &bias);
    let mut out = g.node("Gemm", &[&flat, &wn, &bn], &[("transB", Attr::Int(1))]);
    if cfg.l2_normalize {
        out = l2_normalize(&mut g, &out, 1e-12);
    }
    Ok(g.finish(
        &out,
        (cfg.in_channels, cfg.height, cfg.width),
        d,
        "siamedge float encoder: image (N, C, H, W) f32 -> embedding (N, D) f32",
        metadata,
    ))
}
