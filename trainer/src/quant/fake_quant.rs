//! Fake quantization in candle: values rounded to the int8 grid of the [`scheme`](super::scheme) and
//! mapped back to reals, with a straight-through estimator (`x + (q(x) - x).detach()`: the forward
//! pass sees `q(x)`, the gradient passes as if `q` were the identity).
//!
//! Scales are computed with the same f32 operations as the model file builder (division by a
//! scalar tensor, not multiplication by a reciprocal), so that a fake-quant forward in evaluation
//! mode lands on the integer engine's values up to the engine's fixed-point rounding.
//!
//! - weights: symmetric per output channel (axis 0), [`fake_quant_weight`];
//! - biases: i32 at scale `input_scale * weight_scale`, [`fake_quant_bias`];
//! - activations: per tensor with a [`Quant`], [`fake_quant_activation`]; its range comes from a
//!   [`RangeObserver`] (exponential moving average of the batch maxima during training).

use std::cell::Cell;

use candle_core::{Result, Tensor};
use siamedge_format::Quant;

use super::scheme::{relu_quant, symmetric_quant, MIN_RANGE};

/// The straight-through estimator: `q` forward, the gradient of `x` backward.
pub fn ste(x: &Tensor, q: &Tensor) -> Result<Tensor> {
    x + (q - x)?.detach()
}

fn scalar(v: f32, like: &Tensor) -> Result<Tensor> {
    Tensor::new(v, like.device())
}

/// `scale * (clamp(round(x / scale) + zp, -128, 127) - zp)` element-wise, with the STE.
pub fn fake_quant_activation(x: &Tensor, quant: Quant) -> Result<Tensor> {
    let zp = f64::from(quant.zero_point);
    let s = scalar(quant.scale, x)?;
    let q = (x.detach().broadcast_div(&s)?.round()? + zp)?
        .clamp(-128f32, 127f32)?;
    let deq = (q - zp)?.broadcast_mul(&s)?;
    ste(x, &deq)
}

/// Per-output-channel symmetric fake quantization of `w` (output channel on axis 0, any rank):
/// `(fake-quantized w with the STE, scales (O))`, scale `max|w[o]| / 127`, values in `-127..=127`.
pub fn fake_quant_weight(w: &Tensor) -> Result<(Tensor, Tensor)> {
    let o = w.dim(0)?;
    let flat = w.detach().flatten_from(1)?;
    let scale = flat
        .abs()?
        .max_keepdim(1)?
        .clamp(MIN_RANGE, f32::MAX)?
        .broadcast_div(&scalar(127.0, w)?)?;
    let q = flat
        .broadcast_div(&scale)?
        .round()?
        .clamp(-127f32, 127f32)?
        .broadcast_mul(&scale)?
        .reshape(w.shape())?;
    Ok((ste(w, &q)?, scale.reshape(o)?))
}

/// Fake quantization of a bias `(O)` to i32 at scale `input_scale * weight_scales[o]`.
pub fn fake_quant_bias(b: &Tensor, input_scale: f32, weight_scales: &Tensor) -> Result<Tensor> {
    let s = weight_scales.broadcast_mul(&scalar(input_scale, b)?)?;
    let q = b.detach().div(&s)?.round()?.mul(&s)?;
    ste(b, &q)
}

/// The running range of one activation tensor: `bound` (largest `|x|`, or largest `x` after a
/// ReLU) as an exponential moving average of batch maxima, and the [`Quant`] it gives.
#[derive(Debug, Clone)]
pub struct RangeObserver {
    bound: Cell<f32>,
    momentum: f32,
    relu: bool,
}

impl RangeObserver {
    /// An observer starting at `bound` (e.g. a calibration's), moving by `momentum` (in `(0, 1]`)
    /// towards each batch maximum; `relu` chooses the asymmetric `[0, bound]` quantization.
    pub fn new(bound: f32, momentum: f32, relu: bool) -> Self {
        Self {
            bound: Cell::new(bound.max(MIN_RANGE)),
            momentum,
            relu,
        }
    }

    /// Moves the running bound towards the batch maximum of `|x|` (training).
    pub fn observe(&self, x: &Tensor) -> Result<()> {
        let batch: f32 = x.detach().abs()?.max_all()?.to_scalar()?;
        let b = self.bound.get();
        self.bound.set(b + self.momentum * (batch - b));
        Ok(())
    }

    /// The running bound.
    pub fn bound(&self) -> f32 {
        self.bound.get()
    }

    /// The quantization of the running range ([`relu_quant`] or [`symmetric_quant`]).
    pub fn quant(&self) -> Quant {
        if self.relu {
            relu_quant(self.bound.get())
        } else {
            symmetric_quant(self.bound.get())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::scheme::{quantize_value, quantize_weight, weight_scale};
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_the_scheme_and_passes_gradients_straight_through() {
        let dev = Device::Cpu;
        let vals = [-1.3f32, -0.2, 0.0, 0.004, 0.5, 2.7];
        let x = Var::from_vec(vals.to_vec(), 6, &dev).unwrap();
        let q = relu_quant(2.0);
        let y = fake_quant_activation(x.as_tensor(), q).unwrap();
        let got: Vec<f32> = y.to_vec1().unwrap();
        for (g, v) in got.iter().zip(vals) {
            let want = q.scale * (f32::from(quantize_value(v, q)) - f32::from(q.zero_point));
            assert_eq!(*g, want);
        }
        let grad = y.sum_all().unwrap().backward().unwrap();
        let g: Vec<f32> = grad.get(x.as_tensor()).unwrap().to_vec1().unwrap();
        assert_eq!(g, [1.0; 6]);

        let w = Var::from_vec(vec![0.3f32, -0.9, 0.01, 0.0, 0.0, 0.0], (2, 3), &dev).unwrap();
        let (fq, scales) = fake_quant_weight(w.as_tensor()).unwrap();
        let s: Vec<f32> = scales.to_vec1().unwrap();
        assert_eq!(s[0], weight_scale(&[0.3, -0.9, 0.01]));
        assert!(s[1] > 0.0);
        let fq: Vec<Vec<f32>> = fq.to_vec2().unwrap();
        assert_eq!(fq[0][0], f32::from(quantize_weight(0.3, s[0])) * s[0]);
        assert_eq!(fq[1], [0.0; 3]);
    }

    #[test]
    fn observer_moves_towards_batch_maxima() {
        let o = RangeObserver::new(1.0, 0.5, true);
        let x = Tensor::new(&[0.5f32, 3.0], &Device::Cpu).unwrap();
        o.observe(&x).unwrap();
        assert_eq!(o.bound(), 2.0);
        assert_eq!(o.quant(), relu_quant(2.0));
    }
}
