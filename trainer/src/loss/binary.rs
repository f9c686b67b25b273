//! Binary log-loss on same/different logits, for the pair-scoring networks:
//! `L = mean_i [ -y_i log sigma(z_i) - (1 - y_i) log(1 - sigma(z_i)) ]`, computed stably as
//! `softplus(z_i) - y_i z_i`.

use candle_core::{Result, Tensor};

use super::distance_logistic::softplus;

/// Binary cross-entropy of logits `z` `(N,)` (positive = same) against `same` `(N,)` (1.0 / 0.0);
/// a scalar.
pub fn binary_log_loss(logits: &Tensor, same: &Tensor) -> Result<Tensor> {
    (softplus(logits)? - (logits * same)?)?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Golden by hand (python3):
    //   import math
    //   sp = lambda x: max(x, 0) + math.log1p(math.exp(-abs(x)))
    //   Z = [2.0, -1.0, 0.5, -3.0]; Y = [1, 0, 0, 1]
    //   sum(sp(z) - y * z for z, y in zip(Z, Y)) / 4 -> 1.115713508578761
    #[test]
    fn golden() {
        let dev = Device::Cpu;
        let z = Tensor::new(&[2f32, -1., 0.5, -3.], &dev).unwrap();
        let y = Tensor::new(&[1f32, 0., 0., 1.], &dev).unwrap();
        let l = binary_log_loss(&z, &y).unwrap().to_scalar::<f32>().unwrap();
        assert!((l - 1.115_713_5).abs() < 1e-5, "{l}");
    }

    #[test]
    fn large_logits_do_not_overflow() {
        let dev = Device::Cpu;
        let z = Tensor::new(&[200f32, -200.], &dev).unwrap();
        let y = Tensor::new(&[0f32, 1.], &dev).unwrap();
        let l = binary_log_loss(&z, &y).unwrap().to_scalar::<f32>().unwrap();
        assert!((l - 200.0).abs() < 1e-3, "{l}");
    }
}
