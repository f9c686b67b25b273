//! The layers both face-api.js networks are built from, in candle, NCHW f32, with weights taken
//! from a [`TfjsWeights`] file and converted from tfjs layouts once.

use candle_core::{Device, Tensor, D};

use super::tfjs::{TfjsError, TfjsWeights};
use super::FaceApiError;

/// The per-channel mean (R, G, B) both networks subtract from 0..255 input before dividing by 255.
pub const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];

/// `[N, H, W, 3]` RGB 0..255 (face-api's input tensor) -> `[N, 3, H, W]`, `(x - MEAN_RGB) / 255`.
pub fn normalize_nhwc(x: &Tensor) -> Result<Tensor, FaceApiError> {
    let mean = Tensor::new(&MEAN_RGB, x.device())?;
    let y = x.broadcast_sub(&mean)?.affine(1.0 / 255.0, 0.0)?;
    Ok(y.permute((0, 3, 1, 2))?.contiguous()?)
}

/// A tfjs tensor as a candle tensor in the given layout: `perm` maps candle's dims to tfjs's.
fn tensor(
    w: &TfjsWeights,
    name: &str,
    shape: &[usize],
    perm: Option<&[usize]>,
    dev: &Device,
) -> Result<Tensor, FaceApiError> {
    let t = w.get(name, shape)?;
    let t = Tensor::from_slice(&t.values, shape, dev)?;
    Ok(match perm {
        Some(p) => t.permute(p)?.contiguous()?,
        None => t,
    })
}

/// A vector of `n` values.
pub fn vector(w: &TfjsWeights, name: &str, n: usize, dev: &Device) -> Result<Tensor, FaceApiError> {
    tensor(w, name, &[n], None, dev)
}

/// A matrix `[rows, cols]` as stored (used as `x @ m`).
pub fn matrix(
    w: &TfjsWeights,
    name: &str,
    rows: usize,
    cols: usize,
    dev: &Device,
) -> Result<Tensor, FaceApiError> {
    tensor(w, name, &[rows, cols], None, dev)
}

/// Conv filters stored `[kh, kw, cin, cout]`, returned `[cout, cin, kh, kw]`.
pub fn filters(
    w: &TfjsWeights,
    name: &str,
    k: usize,
    cin: usize,
    cout: usize,
    dev: &Device,
) -> Result<Tensor, FaceApiError> {
    tensor(w, name, &[k, k, cin, cout], Some(&[3, 2, 0, 1]), dev)
}

/// Depthwise filters stored `[3, 3, C, 1]`, returned `[C, 1, 3, 3]`.
pub fn depthwise(
    w: &TfjsWeights,
    name: &str,
    c: usize,
    dev: &Device,
) -> Result<Tensor, FaceApiError> {
    tensor(w, name, &[3, 3, c, 1], Some(&[2, 3, 0, 1]), dev)
}

/// A per-channel vector shaped `[1, C, 1, 1]` for broadcasting over NCHW.
pub fn channels(v: &Tensor) -> Result<Tensor, FaceApiError> {
    Ok(v.reshape((1, v.elem_count(), 1, 1))?)
}

/// TF's 'same' padding for a 3x3 window at stride 2: `out = ceil(in / 2)`, total padding
/// `max((out - 1) * 2 + 3 - in, 0)`, the smaller half before (so on an even side: 0 before, 1
/// after; on an odd side: 1 and 1).
pub fn pad_same_stride2(x: &Tensor) -> Result<Tensor, FaceApiError> {
    let mut x = x.clone();
    for dim in [2, 3] {
        let n = x.dim(dim)?;
        let out = n.div_ceil(2);
        let total = ((out - 1) * 2 + 3).saturating_sub(n);
        x = x.pad_with_zeros(dim, total / 2, total - total / 2)?;
    }
    Ok(x)
}

/// A 3x3 convolution with TF padding: 'same' at stride 1 or 2, or 'valid'.
pub fn conv3(x: &Tensor, w: &Tensor, stride: usize, same: bool) -> candle_core::Result<Tensor> {
    match (same, stride) {
        (true, 1) => x.conv2d(w, 1, 1, 1, 1),
        (true, _) => {
            let p = pad_same_stride2(x).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            p.conv2d(w, 0, stride, 1, 1)
        }
        (false, _) => x.conv2d(w, 0, stride, 1, 1),
    }
}

/// A 3x3 depthwise convolution with TF 'same' padding (stride 1: one zero on each side; stride 2:
/// as [`pad_same_stride2`]): `x` `[N, C, H, W]`, `w` `[C, 1, 3, 3]`. A plain loop over the
/// contiguous data: candle's grouped `conv2d` runs one convolution per channel, which made the
/// landmark net ~100 ms per face.
pub fn depthwise3(x: &Tensor, w: &Tensor, stride: usize) -> candle_core::Result<Tensor> {
    let (n, c, h, wd) = x.dims4()?;
    let (oh, ow) = (h.div_ceil(stride), wd.div_ceil(stride));
    // Padding before: stride 1 'same' pads 1; stride 2 pads floor(total / 2).
    let before = |len: usize, out: usize| {
        if stride == 1 {
            1
        } else {
            ((out - 1) * stride + 3).saturating_sub(len) / 2
        }
    };
    let (pt, pl) = (before(h, oh), before(wd, ow));
    let xs: Vec<f32> = x.flatten_all()?.to_vec1()?;
    let ws: Vec<f32> = w.flatten_all()?.to_vec1()?;
    if ws.len() != c * 9 {
        candle_core::bail!("depthwise weight has {} values for {c} channels", ws.len());
    }
    let mut out = vec![0f32; n * c * oh * ow];
    for (plane, o) in out.chunks_mut(oh * ow).enumerate() {
        let ch = plane % c;
        let src = &xs[plane * h * wd..(plane + 1) * h * wd];
        let k = &ws[ch * 9..ch * 9 + 9];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = 0f32;
                for ky in 0..3 {
                    let iy = (oy * stride + ky) as isize - pt as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..3 {
                        let ix = (ox * stride + kx) as isize - pl as isize;
                        if ix < 0 || ix >= wd as isize {
                            continue;
                        }
                        acc += src[iy as usize * wd + ix as usize] * k[ky * 3 + kx];
                    }
                }
                o[oy * ow + ox] = acc;
            }
        }
    }
    Tensor::from_vec(out, (n, c, oh, ow), x.device())
}

/// Mean over H and W: `[N, C, H, W]` -> `[N, C]`.
pub fn global_mean(x: &Tensor) -> Result<Tensor, FaceApiError> {
    Ok(x.mean(D::Minus1)?.mean(D::Minus1)?)
}

impl From<TfjsError> for FaceApiError {
    fn from(e: TfjsError) -> Self {
        FaceApiError::Weights(e)
    }
}
