//! Contrastive loss (Hadsell, Chopra & LeCun, "Dimensionality reduction by learning an invariant
//! mapping", CVPR 2006): genuine pairs are pulled together, impostor pairs pushed beyond a margin.
//!
//! `L = mean_i [ y_i d_i^2 / 2 + (1 - y_i) max(0, m - d_i)^2 / 2 ]` with `d_i` the L2 distance of pair
//! `i` and `y_i = 1` for a genuine pair (Hadsell's `Y` is `1 - y`). For unit-norm embeddings distances
//! lie in `[0, 2]`; `m = 1` is a common choice.

use candle_core::{Result, Tensor};

/// Contrastive loss of distances `d` `(N,)` with targets `same` `(N,)` (1.0 genuine, 0.0 impostor) and
/// margin `margin`; a scalar.
pub fn contrastive_loss(d: &Tensor, same: &Tensor, margin: f64) -> Result<Tensor> {
    let pull = (same * d.sqr()?)?;
    let push = ((1.0 - same)? * (margin - d)?.relu()?.sqr()?)?;
    ((pull + push)? * 0.5)?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Golden by hand (python3):
    //   d = [0.5, 0.2, 1.5, 0.9]; y = [1, 0, 0, 1]; m = 1.0
    //   sum(0.5*(yi*di**2 + (1-yi)*max(0, m-di)**2) for di, yi in zip(d, y)) / 4
    //   -> 0.2125  = (0.125 + 0.32 + 0 + 0.405) / 4
    #[test]
    fn golden() {
        let dev = Device::Cpu;
        let d = Tensor::new(&[0.5f32, 0.2, 1.5, 0.9], &dev).unwrap();
        let y = Tensor::new(&[1f32, 0., 0., 1.], &dev).unwrap();
        let l = contrastive_loss(&d, &y, 1.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 0.2125).abs() < 1e-6, "{l}");
    }
}
