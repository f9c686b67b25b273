//! Batch-hard triplet loss (Hermans, Beyer & Leibe, "In defense of the triplet loss for person
//! re-identification", 2017): in a P x K batch every image is an anchor, paired with its farthest
//! positive and its nearest negative.
//!
//! `L = mean_a max(0, max_{p: y_p = y_a, p != a} d(a, p) - min_{n: y_n != y_a} d(a, n) + m)` over the
//! anchors that have at least one positive and one negative. Mining uses the current distances
//! (detached); the loss is differentiable through the chosen distances.

use candle_core::Tensor;

use super::distance::pairwise_distances;
use super::mining::{check_batch, mean_hinge};
use super::LossError;

/// Batch-hard triplet loss of `embeddings` `(B, D)` with one label per row; a scalar.
///
/// Fails with [`LossError::NoTriplet`] when no anchor has both a positive and a negative (a batch of
/// one class, or of singletons).
pub fn batch_hard_triplet_loss(
    embeddings: &Tensor,
    labels: &[u32],
    margin: f64,
) -> Result<Tensor, LossError> {
    let b = check_batch(embeddings, labels)?;
    let d = pairwise_distances(embeddings)?;
    let dv: Vec<f32> = d.flatten_all()?.to_vec1()?;
    let mut pos = Vec::with_capacity(b);
    let mut neg = Vec::with_capacity(b);
    for a in 0..b {
        let row = &dv[a * b..(a + 1) * b];
        let mut hardest_pos: Option<usize> = None;
        let mut hardest_neg: Option<usize> = None;
        for (j, &dj) in row.iter().enumerate() {
            if labels[j] == labels[a] {
                if j != a && hardest_pos.is_none_or(|p| dj > row[p]) {
                    hardest_pos = Some(j);
                }
            } else if hardest_neg.is_none_or(|n| dj < row[n]) {
                hardest_neg = Some(j);
            }
        }
        if let (Some(p), Some(n)) = (hardest_pos, hardest_neg) {
            pos.push((a, p));
            neg.push((a, n));
        }
    }
    mean_hinge(&d, labels, pos, neg, margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    // Golden by hand (python3):
    //   import math
    //   def dist(a, b): return math.sqrt(sum((x - y)**2 for x, y in zip(a, b)) + 1e-12)
    //   E = [[0,0],[0.6,0.8],[1,0],[0,1],[0.8,0.6],[-1,0]]; L = [0,0,1,1,2,2]; m = 0.2
    //   sum(max(0, max(dist(E[a],E[p]) for p in range(6) if p != a and L[p] == L[a])
    //              - min(dist(E[a],E[n]) for n in range(6) if L[n] != L[a]) + m)
    //       for a in range(6)) / 6
    //   -> 0.9987606379879622
    #[test]
    fn golden() {
        let e = Tensor::new(
            &[
                [0f32, 0.],
                [0.6, 0.8],
                [1., 0.],
                [0., 1.],
                [0.8, 0.6],
                [-1., 0.],
            ],
            &Device::Cpu,
        )
        .unwrap();
        let l = batch_hard_triplet_loss(&e, &[0, 0, 1, 1, 2, 2], 0.2)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 0.998_760_6).abs() < 1e-5, "{l}");
    }

    #[test]
    fn gradient_flows_and_a_single_class_is_an_error() {
        let v = Var::new(&[[0f32, 0.], [0.6, 0.8], [1., 0.], [0., 1.]], &Device::Cpu).unwrap();
        let l = batch_hard_triplet_loss(v.as_tensor(), &[0, 0, 1, 1], 0.5).unwrap();
        let g = l.backward().unwrap();
        let g: Vec<f32> = g
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(g.iter().any(|x| *x != 0.0) && g.iter().all(|x| x.is_finite()));
        match batch_hard_triplet_loss(v.as_tensor(), &[3, 3, 3, 3], 0.5) {
            Err(LossError::NoTriplet {
                batch: 4,
                classes: 1,
            }) => {}
            other => panic!("expected NoTriplet, got {other:?}"),
        }
    }
}
