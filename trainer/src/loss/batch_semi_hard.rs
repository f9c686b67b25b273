//! Batch semi-hard triplet loss (FaceNet's online semi-hard mining, with the fallback of TensorFlow
//! Addons' `triplet_semihard_loss`): every positive pair `(a, p)` of the batch takes the nearest
//! negative that is still farther than `p`, `d(a, n) > d(a, p)`; if there is none, the farthest
//! negative.
//!
//! `L = mean_{(a, p)} max(0, d(a, p) - d(a, n*) + m)` over ordered positive pairs `a != p` whose anchor
//! has at least one negative. Mining uses detached distances.

use candle_core::Tensor;

use super::distance::pairwise_distances;
use super::mining::{check_batch, mean_hinge};
use super::LossError;

/// Batch semi-hard triplet loss of `embeddings` `(B, D)` with one label per row; a scalar.
///
/// Fails with [`LossError::NoTriplet`] when the batch has no positive pair with a negative.
pub fn batch_semi_hard_triplet_loss(
    embeddings: &Tensor,
    labels: &[u32],
    margin: f64,
) -> Result<Tensor, LossError> {
    let b = check_batch(embeddings, labels)?;
    let d = pairwise_distances(embeddings)?;
    let dv: Vec<f32> = d.flatten_all()?.to_vec1()?;
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for a in 0..b {
        let row = &dv[a * b..(a + 1) * b];
        let negatives: Vec<usize> = (0..b).filter(|&j| labels[j] != labels[a]).collect();
        if negatives.is_empty() {
            continue;
        }
        for p in (0..b).filter(|&j| j != a && labels[j] == labels[a]) {
            let dap = row[p];
            let semi_hard = negatives
                .iter()
                .copied()
                .filter(|&n| row[n] > dap)
                .min_by(|&x, &y| row[x].total_cmp(&row[y]));
            let chosen = semi_hard.or_else(|| {
                negatives
                    .iter()
                    .copied()
                    .max_by(|&x, &y| row[x].total_cmp(&row[y]))
            });
            if let Some(n) = chosen {
                pos.push((a, p));
                neg.push((a, n));
            }
        }
    }
    mean_hinge(&d, labels, pos, neg, margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Golden by hand (python3, dist as in batch_hard.rs):
    //   E = [[0,0],[0.6,0.8],[1,0],[0,1],[0.8,0.6],[-1,0]]; L = [0,0,1,1,2,2]; m = 0.2
    //   tot = cnt = 0
    //   for a in range(6):
    //     for p in range(6):
    //       if p == a or L[p] != L[a]: continue
    //       dap = dist(E[a], E[p]); negs = [dist(E[a], E[n]) for n in range(6) if L[n] != L[a]]
    //       out = [x for x in negs if x > dap]
    //       dan = min(out) if out else max(negs)
    //       tot += max(0, dap - dan + m); cnt += 1
    //   tot / cnt -> 0.265788865366972
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
        let l = batch_semi_hard_triplet_loss(&e, &[0, 0, 1, 1, 2, 2], 0.2)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 0.265_788_87).abs() < 1e-5, "{l}");
    }
}
