//! Scoring a network on identities it has not trained on: every pair `i < j` of a held-out set
//! (REFERENCE.md's ORL protocol) or given pairs (its MNIST open-set protocol), distances in evaluation
//! mode, metrics from [`crate::eval`].

use candle_core::{Device, Tensor};
use candle_nn::ModuleT;

use crate::data::LabelledSet;
use crate::eval::{all_pairs, Pairs, VerificationReport};
use crate::model::encoder::l2_normalize;
use crate::model::{Encoder, Model};

use super::TrainError;

/// Images per forward pass in evaluation.
const EVAL_BATCH: usize = 128;

/// Splits `set` by identity: the `n` highest labels go to the validation set, the rest stay for
/// training. Fails unless at least 2 identities remain on each side (when `n > 0`).
pub fn split_validation(
    set: &LabelledSet,
    n: usize,
) -> Result<(LabelledSet, Option<LabelledSet>), TrainError> {
    if n == 0 {
        return Ok((set.clone(), None));
    }
    let classes = set.classes();
    if n < 2 || classes.len() < n + 2 {
        return Err(TrainError::Config {
            field: "val_people",
            reason: format!(
                "{n} validation identities out of {}: need at least 2 on each side",
                classes.len()
            ),
        });
    }
    let first_val = classes[classes.len() - n];
    Ok((
        set.filter_classes(|c| c < first_val),
        Some(set.filter_classes(|c| c >= first_val)),
    ))
}

/// How an image becomes an embedding at test time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TestTime {
    /// One inference per image.
    #[default]
    Plain,
    /// Two inferences per image, the image and its mirror image (columns reversed); the embedding
    /// is their mean, L2-normalised again when the encoder normalises. For faces, whose training
    /// already flips; not for digits or signatures.
    FlipAverage,
}

impl TestTime {
    /// Inferences per image.
    pub fn inferences(self) -> usize {
        match self {
            TestTime::Plain => 1,
            TestTime::FlipAverage => 2,
        }
    }
}

/// `x` `(N, C, H, W)` with its columns in reverse order (the mirror image).
pub fn mirror(x: &Tensor) -> Result<Tensor, TrainError> {
    let w = x.dim(3)?;
    let idx: Vec<u32> = (0..w as u32).rev().collect();
    let idx = Tensor::from_vec(idx, w, x.device())?;
    Ok(x.index_select(&idx, 3)?)
}

/// Embeddings `(N, D)` of every image of `set`, in evaluation mode.
pub fn embed(encoder: &Encoder, set: &LabelledSet, device: &Device) -> Result<Tensor, TrainError> {
    embed_with(encoder, set, TestTime::Plain, device)
}

/// Embeddings `(N, D)` of every image of `set`, in evaluation mode, computed as `tt` says.
pub fn embed_with(
    encoder: &Encoder,
    set: &LabelledSet,
    tt: TestTime,
    device: &Device,
) -> Result<Tensor, TrainError> {
    let mut parts = Vec::new();
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(EVAL_BATCH) {
        let x = set.batch(chunk, device)?;
        let e = encoder.forward_t(&x, false)?;
        parts.push(match tt {
            TestTime::Plain => e,
            TestTime::FlipAverage => {
                let sum = (e + encoder.forward_t(&mirror(&x)?, false)?)?;
                if encoder.config().l2_normalize {
                    l2_normalize(&sum)?
                } else {
                    (sum * 0.5)?
                }
            }
        });
    }
    Ok(Tensor::cat(&parts, 0)?)
}

/// Distances of every pair `i < j` of `set`, `(genuine, impostor)` in [`all_pairs`] order: L2 between
/// embeddings for the Siamese CNN, minus the logit for pair-scoring networks.
pub fn all_pair_distances(
    model: &Model,
    set: &LabelledSet,
    device: &Device,
) -> Result<(Vec<f64>, Vec<f64>), TrainError> {
    pair_distances(model, set, &all_pairs(set.labels()), device)
}

/// Distances of the given pairs of `set` (indices into it), `(genuine, impostor)` in order.
pub fn pair_distances(
    model: &Model,
    set: &LabelledSet,
    pairs: &Pairs,
    device: &Device,
) -> Result<(Vec<f64>, Vec<f64>), TrainError> {
    pair_distances_with(model, set, pairs, TestTime::Plain, device)
}

/// [`pair_distances`] with the embeddings computed as `tt` says. Pair-scoring networks (2-channel,
/// hybrid) score each pair once whatever `tt` is.
pub fn pair_distances_with(
    model: &Model,
    set: &LabelledSet,
    pairs: &Pairs,
    tt: TestTime,
    device: &Device,
) -> Result<(Vec<f64>, Vec<f64>), TrainError> {
    if let Some(enc) = model.encoder() {
        let e: Vec<Vec<f32>> = embed_with(enc, set, tt, device)?.to_vec2()?;
        let dist = |a: usize, b: usize| -> f64 {
            e[a].iter()
                .zip(&e[b])
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        return Ok(pairs.distances(dist));
    }
    let mut out = Vec::with_capacity(2);
    for list in [&pairs.genuine, &pairs.impostor] {
        let mut d = Vec::with_capacity(list.len());
        for chunk in list.chunks(EVAL_BATCH) {
            let a: Vec<usize> = chunk.iter().map(|p| p.a).collect();
            let b: Vec<usize> = chunk.iter().map(|p| p.b).collect();
            let t = model.pair_distances(&set.batch(&a, device)?, &set.batch(&b, device)?)?;
            d.extend(t.to_vec1::<f32>()?.into_iter().map(f64::from));
        }
        out.push(d);
    }
    let impostor = out.pop().unwrap_or_default();
    let genuine = out.pop().unwrap_or_default();
    Ok((genuine, impostor))
}

/// Verification metrics of `model` on all pairs of `set`, with TAR at each of `far_targets`.
pub fn verify(
    model: &Model,
    set: &LabelledSet,
    far_targets: &[f64],
    device: &Device,
) -> Result<VerificationReport, TrainError> {
    verify_pairs(model, set, &all_pairs(set.labels()), far_targets, device)
}

/// Verification metrics of `model` on the given pairs of `set`, with TAR at each of `far_targets`.
pub fn verify_pairs(
    model: &Model,
    set: &LabelledSet,
    pairs: &Pairs,
    far_targets: &[f64],
    device: &Device,
) -> Result<VerificationReport, TrainError> {
    let (genuine, impostor) = pair_distances(model, set, pairs, device)?;
    Ok(VerificationReport::from_distances(
        &genuine,
        &impostor,
        far_targets,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_reverses_columns_only() {
        let x = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 2, 2, 3))
            .unwrap();
        let m: Vec<f32> = mirror(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(m, [2., 1., 0., 5., 4., 3., 8., 7., 6., 11., 10., 9.]);
        assert_eq!(TestTime::FlipAverage.inferences(), 2);
    }
}
