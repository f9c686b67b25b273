//! 2-D convolution on channel-last images, stride 1, as im2col + one matrix product fused in one
//! custom op ([`super::conv_op`]), with PyTorch's parameter layout and default initialisation.
//!
//! Input `(N, H, W, C_in)`; output `(N, OH, OW, C_out)` with `OH = H + 2p - K + 1`. Parameters, in
//! PyTorch's layout: `weight (C_out, C_in, K, K)`, `bias (C_out)`; the weight is reordered to
//! `(C_out, K, K, C_in)` for the product on each call (a few kilobytes).

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};

use super::conv_op::conv_rows;

/// A `K x K` convolution, stride 1, zero padding `padding`, optional bias, channel-last.
#[derive(Clone, Debug)]
pub struct Conv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    padding: usize,
}

impl Conv2d {
    /// A convolution from a `(C_out, C_in, K, K)` weight (square `K`), an optional `(C_out)` bias and
    /// the padding.
    pub fn new(weight: Tensor, bias: Option<Tensor>, padding: usize) -> Self {
        Self {
            weight,
            bias,
            padding,
        }
    }

    /// The weight, `(C_out, C_in, K, K)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(C_out)`.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Zero padding on each side.
    pub fn padding(&self) -> usize {
        self.padding
    }
}

impl Conv2d {
    /// The product without the bias, as rows: `(N, H, W, C_in)` -> `(N * OH * OW, C_out)`, row-major
    /// over the output grid `(N, OH, OW)`, which is returned too.
    pub fn forward_rows(&self, x: &Tensor) -> Result<(Tensor, (usize, usize, usize))> {
        let (wmat, grid) = self.weight_matrix(x)?;
        let k = self.weight.dim(2)?;
        Ok((conv_rows(x, &wmat, k, self.padding)?, grid))
    }

    /// The weight as the product's matrix `(C_out, K * K * C_in)` (PyTorch's weight permuted to
    /// `(C_out, K, K, C_in)`), checked against the input `(N, H, W, C_in)`, with the output grid
    /// `(N, OH, OW)`.
    pub(crate) fn weight_matrix(&self, x: &Tensor) -> Result<(Tensor, (usize, usize, usize))> {
        let (n, h, w, c) = x.dims4()?;
        let (c_out, c_in, k, k2) = self.weight.dims4()?;
        if c != c_in || k != k2 {
            candle_core::bail!(
                "conv2d: weight {:?} does not fit a channel-last input {:?}",
                self.weight.dims(),
                x.dims()
            )
        }
        let p = self.padding;
        let (oh, ow) = (
            (h + 2 * p + 1).saturating_sub(k),
            (w + 2 * p + 1).saturating_sub(k),
        );
        let wmat = if k == 1 {
            self.weight.reshape((c_out, c_in))?
        } else {
            self.weight
                .permute((0, 2, 3, 1))?
                .reshape((c_out, k * k * c_in))?
        };
        Ok((wmat, (n, oh, ow)))
    }
}

impl Module for Conv2d {
    /// `(N, H, W, C_in)` -> `(N, OH, OW, C_out)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (y, (n, oh, ow)) = self.forward_rows(x)?;
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        y.reshape((n, oh, ow, ()))
    }
}

/// A [`Conv2d`] initialised as PyTorch's `nn.Conv2d` is: weight and bias uniform in
/// `+-1/sqrt(C_in K K)` (Kaiming-uniform with a = sqrt(5)); parameters `weight`, `bias` under `vb`.
pub fn conv2d(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    padding: usize,
    bias: bool,
    vb: VarBuilder,
) -> Result<Conv2d> {
    let bound = 1.0 / ((c_in * kernel * kernel) as f64).sqrt();
    let init = candle_nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((c_out, c_in, kernel, kernel), "weight", init)?;
    let b = if bias {
        Some(vb.get_with_hints(c_out, "bias", init)?)
    } else {
        None
    };
    Ok(Conv2d::new(w, b, padding))
}

/// A `Linear` initialised as PyTorch's `nn.Linear` is: weight `(d_out, d_in)` and bias `(d_out)`
/// uniform in `+-1/sqrt(d_in)`.
pub fn linear(d_in: usize, d_out: usize, vb: VarBuilder) -> Result<candle_nn::Linear> {
    let bound = 1.0 / (d_in as f64).sqrt();
    let init = candle_nn::Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((d_out, d_in), "weight", init)?;
    let b = vb.get_with_hints(d_out, "bias", init)?;
    Ok(candle_nn::Linear::new(w, Some(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::max_abs;
    use candle_core::{Device, Var};

    fn check(kernel: usize, padding: usize) {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::rand(-1f32, 1.0, (2, 3, 7, 5), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::rand(-1f32, 1.0, (4, 3, kernel, kernel), &dev).unwrap())
            .unwrap();
        let b = Var::from_tensor(&Tensor::rand(-1f32, 1.0, 4, &dev).unwrap()).unwrap();
        let nhwc = x.as_tensor().permute((0, 2, 3, 1)).unwrap();
        let ours = Conv2d::new(w.as_tensor().clone(), Some(b.as_tensor().clone()), padding)
            .forward(&nhwc)
            .unwrap()
            .permute((0, 3, 1, 2))
            .unwrap();
        let theirs = candle_nn::Conv2d::new(
            w.as_tensor().clone(),
            Some(b.as_tensor().clone()),
            candle_nn::Conv2dConfig {
                padding,
                ..Default::default()
            },
        )
        .forward(x.as_tensor())
        .unwrap();
        assert!(max_abs((&ours - &theirs).unwrap()) < 1e-5);
        let probe = Tensor::rand(-1f32, 1.0, ours.dims(), &dev).unwrap();
        let g1 = (ours * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (theirs * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&x, &w, &b] {
            let d = (g1.get(v.as_tensor()).unwrap() - g2.get(v.as_tensor()).unwrap()).unwrap();
            assert!(max_abs(d) < 1e-4);
        }
    }

    #[test]
    fn forward_and_gradients_match_candle_conv2d() {
        check(3, 1);
        check(1, 0);
    }
}
