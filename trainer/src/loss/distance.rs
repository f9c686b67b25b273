//! Euclidean distances between embeddings, differentiable and safe at zero.
//!
//! The root is taken of `sum((a - b)^2) + 1e-12`, so the gradient stays finite where two embeddings
//! coincide (the diagonal of a pairwise matrix); distances are therefore at least 1e-6.

use candle_core::{Result, Tensor};

/// Added under the square root.
pub const DISTANCE_EPS: f64 = 1e-12;

/// Row-wise distances `(N,)` between `a` and `b`, both `(N, D)`.
pub fn pair_distances(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    ((a - b)?.sqr()?.sum(1)? + DISTANCE_EPS)?.sqrt()
}

/// All distances `(B, B)` between the rows of `x` `(B, D)`, computed from differences (not from
/// `|a|^2 + |b|^2 - 2ab`, which cancels badly for close points).
pub fn pairwise_distances(x: &Tensor) -> Result<Tensor> {
    let diff = x.unsqueeze(1)?.broadcast_sub(&x.unsqueeze(0)?)?;
    (diff.sqr()?.sum(2)? + DISTANCE_EPS)?.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn three_four_five() {
        let x = Tensor::new(&[[0f32, 0.], [3., 4.], [3., 0.]], &Device::Cpu).unwrap();
        let d: Vec<Vec<f32>> = pairwise_distances(&x).unwrap().to_vec2().unwrap();
        assert!((d[0][1] - 5.0).abs() < 1e-6 && (d[1][0] - 5.0).abs() < 1e-6);
        assert!((d[1][2] - 4.0).abs() < 1e-6 && (d[0][2] - 3.0).abs() < 1e-6);
        assert!(d[1][1] < 1e-5);
        let p: Vec<f32> = pair_distances(&x.narrow(0, 0, 2).unwrap(), &x.narrow(0, 1, 2).unwrap())
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!((p[0] - 5.0).abs() < 1e-6 && (p[1] - 4.0).abs() < 1e-6);
    }

    #[test]
    fn gradient_is_finite_for_identical_rows() {
        let v = candle_core::Var::new(&[[1f32, 2.], [1., 2.]], &Device::Cpu).unwrap();
        let loss = pairwise_distances(v.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap();
        let g = loss.backward().unwrap();
        let g: Vec<Vec<f32>> = g.get(v.as_tensor()).unwrap().to_vec2().unwrap();
        assert!(g.iter().flatten().all(|x| x.is_finite()));
    }
}
