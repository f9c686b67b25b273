//! Scoring a network on identities it has not trained on: every pair `i < j` of a held-out set
//! (REFERENCE.md's ORL protocol) or given pairs (its MNIST open-set protocol), distances in evaluation
//! mode, metrics from [`crate::eval`].

use candle_core::{Device, Tensor};
use candle_nn::ModuleT;

use crate::eval::{all_pairs, Pairs, VerificationReport};
use crate::model::{Encoder, Model};
use crate::sampler::LabelledSet;

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

/// Embeddings `(N, D)` of every image of `set`, in evaluation mode.
pub fn embed(encoder: &Encoder, set: &LabelledSet, device: &Device) -> Result<Tensor, TrainError> {
    let mut parts = Vec::new();
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(EVAL_BATCH) {
        parts.push(encoder.forward_t(&set.batch(chunk, device)?, false)?);
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
    if let Some(enc) = model.encoder() {
        let e: Vec<Vec<f32>> = embed(enc, set, device)?.to_vec2()?;
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
