//! CosFace / large-margin cosine loss (Wang et al., "CosFace: Large margin cosine loss for deep face
//! recognition", CVPR 2018): a learnable class-weight matrix, cosine logits between normalised
//! embeddings and normalised class weights, the margin `m` subtracted from the true class's cosine,
//! everything scaled by `s`, then softmax cross-entropy.
//!
//! `L = mean_i CE(s * (cos(theta_ij) - m [j = y_i]), y_i)`. Classes are the training identities,
//! numbered `0..C`; the class weights are thrown away after training (only the encoder is kept).
//! Typical values: `s` 16-30, `m` 0.2-0.35.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::model::encoder::l2_normalize;

use super::mining::check_batch;
use super::LossError;

/// The class-weight head of CosFace.
#[derive(Clone, Debug)]
pub struct CosFaceHead {
    weight: Tensor,
    scale: f64,
    margin: f64,
}

impl CosFaceHead {
    /// A head from a `(C, D)` class-weight matrix, a scale `s` and a cosine margin `m`.
    pub fn new(weight: Tensor, scale: f64, margin: f64) -> Self {
        Self {
            weight,
            scale,
            margin,
        }
    }

    /// The `(C, D)` class weights.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// CosFace loss of `embeddings` `(B, D)` (normalised here; they need not be) with class indices
    /// `labels` in `0..C`; a scalar.
    pub fn loss(&self, embeddings: &Tensor, labels: &[u32]) -> Result<Tensor, LossError> {
        let b = check_batch(embeddings, labels)?;
        let c = self.weight.dim(0)?;
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= c) {
            return Err(LossError::ClassOutOfRange {
                label: bad,
                classes: c,
            });
        }
        let cos = l2_normalize(embeddings)?.matmul(&l2_normalize(&self.weight)?.t()?)?;
        let mut onehot = vec![0f32; b * c];
        for (i, &l) in labels.iter().enumerate() {
            onehot[i * c + l as usize] = self.margin as f32;
        }
        let onehot = Tensor::from_vec(onehot, (b, c), embeddings.device())?;
        let logits = ((cos - onehot)? * self.scale)?;
        let target = Tensor::from_vec(labels.to_vec(), b, embeddings.device())?;
        Ok(candle_nn::loss::cross_entropy(
            &logits,
            &target.to_dtype(DType::U32)?,
        )?)
    }
}

/// A [`CosFaceHead`] for `classes` classes of `dim`-d embeddings, its weight at `vb`'s `weight`
/// (Xavier-uniform initialisation).
pub fn cosface_head(
    classes: usize,
    dim: usize,
    scale: f64,
    margin: f64,
    vb: VarBuilder,
) -> candle_core::Result<CosFaceHead> {
    let bound = (6.0 / (classes + dim) as f64).sqrt();
    let w = vb.get_with_hints(
        (classes, dim),
        "weight",
        candle_nn::Init::Uniform {
            lo: -bound,
            up: bound,
        },
    )?;
    Ok(CosFaceHead::new(w, scale, margin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Golden by hand (python3):
    //   import math
    //   E = [[1,0],[0.6,0.8],[0,-2]]; W = [[1,1],[-1,1],[0,-1]]; L = [0,1,2]; s = 4.0; m = 0.35
    //   nrm = lambda v: [x / math.sqrt(sum(y * y for y in v)) for x in v]
    //   tot = 0
    //   for e, l in zip(E, L):
    //       cos = [sum(a * b for a, b in zip(nrm(e), nrm(w))) for w in W]
    //       z = [s * (c - (m if j == l else 0)) for j, c in enumerate(cos)]
    //       tot += math.log(sum(math.exp(v) for v in z)) - z[l]
    //   tot / 3 -> 1.6793632551770177
    #[test]
    fn golden() {
        let dev = Device::Cpu;
        let e = Tensor::new(&[[1f32, 0.], [0.6, 0.8], [0., -2.]], &dev).unwrap();
        let w = Tensor::new(&[[1f32, 1.], [-1., 1.], [0., -1.]], &dev).unwrap();
        let l = CosFaceHead::new(w, 4.0, 0.35)
            .loss(&e, &[0, 1, 2])
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 1.679_363_3).abs() < 1e-5, "{l}");
    }

    #[test]
    fn label_beyond_the_classes_is_an_error() {
        let dev = Device::Cpu;
        let w = Tensor::zeros((3, 2), DType::F32, &dev).unwrap();
        let e = Tensor::ones((1, 2), DType::F32, &dev).unwrap();
        match CosFaceHead::new(w, 4.0, 0.35).loss(&e, &[3]) {
            Err(LossError::ClassOutOfRange {
                label: 3,
                classes: 3,
            }) => {}
            other => panic!("expected ClassOutOfRange, got {other:?}"),
        }
    }
}
