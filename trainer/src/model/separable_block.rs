//! The depthwise-separable block of the compact (MCU-sized) encoders: depthwise conv3x3 (padding 1,
//! no bias) - BN - ReLU - pointwise conv1x1 (no bias) - BN - ReLU - maxpool 2x2 (MobileNet v1's block
//! with a pooling step).
//!
//! Channel-last: input `(N, H, W, C_in)`, output `(N, H/2, W/2, C_out)` (floor). Multiply-accumulates
//! per output pixel drop from `9 C_in C_out` to `9 C_in + C_in C_out`. Parameters under the block's
//! path, in PyTorch layouts: `dw.weight (C_in, 1, 3, 3)`, `dw_bn.*`, `pw.weight (C_out, C_in, 1, 1)`,
//! `pw_bn.*`.

use candle_core::{Result, Tensor};
use candle_nn::{Module, ModuleT, VarBuilder};

use super::batch_norm::{batch_norm, BatchNorm, Then};
use super::conv::{conv2d, Conv2d};

/// A depthwise 3x3 convolution on channel-last images, stride 1, padding 1, one filter per channel,
/// no bias.
///
/// Computed as nine shifted, per-channel-scaled copies of the zero-padded input, which keeps the
/// backward pass to plain element-wise operations.
#[derive(Clone, Debug)]
pub struct DepthwiseConv3x3 {
    weight: Tensor,
}

impl DepthwiseConv3x3 {
    /// `weight` has PyTorch's depthwise layout `(C, 1, 3, 3)`.
    pub fn new(weight: Tensor) -> Self {
        Self { weight }
    }

    /// The weight, `(C, 1, 3, 3)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Module for DepthwiseConv3x3 {
    /// `(N, H, W, C)` -> `(N, H, W, C)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, h, w, c) = x.dims4()?;
        let (wc, one, kh, kw) = self.weight.dims4()?;
        if wc != c || one != 1 || kh != 3 || kw != 3 {
            candle_core::bail!(
                "depthwise conv: weight {:?} does not fit an input with {c} channels",
                self.weight.dims()
            )
        }
        let padded = x.pad_with_zeros(1, 1, 1)?.pad_with_zeros(2, 1, 1)?;
        let taps = self.weight.reshape((c, 9))?;
        let mut out: Option<Tensor> = None;
        for dy in 0..3 {
            for dx in 0..3 {
                let tap = taps.narrow(1, dy * 3 + dx, 1)?.reshape((1, 1, 1, c))?;
                let term = padded
                    .narrow(1, dy, h)?
                    .narrow(2, dx, w)?
                    .broadcast_mul(&tap)?;
                out = Some(match out {
                    None => term,
                    Some(acc) => (acc + term)?,
                });
            }
        }
        out.ok_or_else(|| candle_core::Error::Msg("depthwise conv: no taps".into()))
    }
}

/// Depthwise 3x3 - BN - ReLU - pointwise 1x1 - BN - ReLU - maxpool2.
#[derive(Clone, Debug)]
pub struct SeparableBlock {
    dw: DepthwiseConv3x3,
    dw_bn: BatchNorm,
    pw: Conv2d,
    pw_bn: BatchNorm,
}

impl SeparableBlock {
    /// A block from its layers; `pw` must be a 1x1 convolution without padding.
    pub fn new(dw: DepthwiseConv3x3, dw_bn: BatchNorm, pw: Conv2d, pw_bn: BatchNorm) -> Self {
        Self {
            dw,
            dw_bn,
            pw,
            pw_bn,
        }
    }

    /// The depthwise convolution.
    pub fn dw(&self) -> &DepthwiseConv3x3 {
        &self.dw
    }

    /// The batch normalisation after the depthwise convolution.
    pub fn dw_bn(&self) -> &BatchNorm {
        &self.dw_bn
    }

    /// The pointwise (1x1) convolution.
    pub fn pw(&self) -> &Conv2d {
        &self.pw
    }

    /// The batch normalisation after the pointwise convolution.
    pub fn pw_bn(&self) -> &BatchNorm {
        &self.pw_bn
    }
}

/// A [`SeparableBlock`] `c_in -> c_out` with its parameters under `vb`.
pub fn separable_block(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<SeparableBlock> {
    let bound = 1.0 / 3.0; // fan-in of a depthwise 3x3 filter is 9
    let dw_w = vb.pp("dw").get_with_hints(
        (c_in, 1, 3, 3),
        "weight",
        candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        },
    )?;
    let dw_bn = batch_norm(c_in, vb.pp("dw_bn"))?;
    let pw = conv2d(c_in, c_out, 1, 0, false, vb.pp("pw"))?;
    let pw_bn = batch_norm(c_out, vb.pp("pw_bn"))?;
    Ok(SeparableBlock::new(
        DepthwiseConv3x3::new(dw_w),
        dw_bn,
        pw,
        pw_bn,
    ))
}

impl ModuleT for SeparableBlock {
    /// `(N, H, W, C_in)` -> `(N, H/2, W/2, C_out)`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = self.dw.forward(x)?;
        let x = self.dw_bn.forward_fused_t(&x, Then::Relu, train)?;
        let (rows, grid) = self.pw.forward_rows(&x)?;
        self.pw_bn
            .forward_rows_t(&rows, None, grid, Then::ReluMaxPool, train)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn depthwise_matches_grouped_convolution() {
        let dev = Device::Cpu;
        let x = Tensor::arange(0f32, 2.0 * 3.0 * 5.0 * 4.0, &dev)
            .unwrap()
            .reshape((2, 3, 5, 4))
            .unwrap();
        let w = (Tensor::arange(0f32, 27.0, &dev).unwrap() * 0.1)
            .unwrap()
            .reshape((3, 1, 3, 3))
            .unwrap();
        let ours = DepthwiseConv3x3::new(w.clone())
            .forward(&x.permute((0, 2, 3, 1)).unwrap())
            .unwrap()
            .permute((0, 3, 1, 2))
            .unwrap();
        let reference = x.conv2d(&w, 1, 1, 1, 3).unwrap();
        let diff = crate::model::test_util::max_abs((ours - reference).unwrap());
        assert!(diff < 1e-3, "max abs difference {diff}");
    }
}
