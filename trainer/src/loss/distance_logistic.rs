//! Distance-based logistic loss (Vo & Hays, "Localizing and orienting street views using overhead
//! imagery", ECCV 2016): the L2 distance of a pair is turned into a match probability
//! `p = (1 + e^-m) / (1 + e^(d - m))` (1 at `d = 0`, 1/2 near `d = m`, towards 0 beyond) and scored
//! with binary cross-entropy against `y` (1 genuine, 0 impostor).
//!
//! Computed in log space: `log p = log(1 + e^-m) - softplus(d - m)` and
//! `log(1 - p) = -m + d + log(1 - e^-d) - softplus(d - m)`, with `1 - e^-d` floored at 1e-30 so that a
//! genuine-looking impostor pair (d near 0) costs about 69 instead of infinity.

use candle_core::{Result, Tensor};

/// `softplus(x) = log(1 + e^x)`, computed as `max(x, 0) + log(1 + e^-|x|)`.
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?
}

/// Distance-based logistic loss of distances `d` `(N,)` (non-negative) with targets `same` `(N,)`;
/// a scalar.
pub fn distance_logistic_loss(d: &Tensor, same: &Tensor, margin: f64) -> Result<Tensor> {
    let sp = softplus(&(d - margin)?)?;
    let log_p = (sp.neg()? + (1.0 + (-margin).exp()).ln())?;
    let one_minus_e = (1.0 - d.neg()?.exp()?)?.maximum(1e-30)?;
    let log_q = ((d + one_minus_e.log()?)? - margin)?.sub(&sp)?;
    let ll = ((same * log_p)? + ((1.0 - same)? * log_q)?)?;
    ll.neg()?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Golden by hand (python3):
    //   import math
    //   D = [0.1, 0.8, 1.5, 0.3]; Y = [1, 0, 0, 1]; m = 1.0
    //   tot = 0
    //   for d, y in zip(D, Y):
    //       p = (1 + math.exp(-m)) / (1 + math.exp(d - m))
    //       tot += -(y * math.log(p) + (1 - y) * math.log(1 - p))
    //   tot / 4 -> 0.559783135064307
    #[test]
    fn golden() {
        let dev = Device::Cpu;
        let d = Tensor::new(&[0.1f32, 0.8, 1.5, 0.3], &dev).unwrap();
        let y = Tensor::new(&[1f32, 0., 0., 1.], &dev).unwrap();
        let l = distance_logistic_loss(&d, &y, 1.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 0.559_783_1).abs() < 1e-5, "{l}");
    }

    #[test]
    fn impostor_at_zero_distance_is_finite() {
        let dev = Device::Cpu;
        let d = Tensor::new(&[0f32], &dev).unwrap();
        let y = Tensor::new(&[0f32], &dev).unwrap();
        let l = distance_logistic_loss(&d, &y, 1.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(l.is_finite() && l > 60.0, "{l}");
    }
}
