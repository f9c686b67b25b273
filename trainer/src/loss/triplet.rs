//! Triplet margin loss (Schroff, Kalenichenko & Philbin, FaceNet, CVPR 2015) on given triplets.
//!
//! `L = mean_i max(0, d(a_i, p_i) - d(a_i, n_i) + m)` with L2 distances; `p_i` shares `a_i`'s
//! identity, `n_i` does not. For mining inside a batch see [`super::batch_hard`] and
//! [`super::batch_semi_hard`].

use candle_core::{Result, Tensor};

use super::distance::pair_distances;

/// Triplet margin loss of anchors, positives and negatives, each `(N, D)`; a scalar.
pub fn triplet_margin_loss(
    anchor: &Tensor,
    positive: &Tensor,
    negative: &Tensor,
    margin: f64,
) -> Result<Tensor> {
    let dp = pair_distances(anchor, positive)?;
    let dn = pair_distances(anchor, negative)?;
    ((dp - dn)? + margin)?.relu()?.mean_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Golden by hand (python3, d = Euclidean distance):
    //   a = [[0,0],[1,0]]; p = [[0.3,0.4],[1,1]]; n = [[1,0],[1,0.5]]; m = 0.5
    //   d(a,p) = [0.5, 1.0], d(a,n) = [1.0, 0.5]
    //   (max(0, 0.5-1.0+0.5) + max(0, 1.0-0.5+0.5)) / 2 = 0.5
    #[test]
    fn golden() {
        let dev = Device::Cpu;
        let a = Tensor::new(&[[0f32, 0.], [1., 0.]], &dev).unwrap();
        let p = Tensor::new(&[[0.3f32, 0.4], [1., 1.]], &dev).unwrap();
        let n = Tensor::new(&[[1f32, 0.], [1., 0.5]], &dev).unwrap();
        let l = triplet_margin_loss(&a, &p, &n, 0.5)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 0.5).abs() < 1e-6, "{l}");
    }
}
