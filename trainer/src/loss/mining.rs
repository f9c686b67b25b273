//! Shared parts of online triplet mining over a labelled batch: the detached distance matrix and the
//! differentiable gather of chosen entries.

use candle_core::Tensor;

use super::LossError;

/// Checks `labels` against the batch size of `embeddings` `(B, D)` and returns `B`.
pub(crate) fn check_batch(embeddings: &Tensor, labels: &[u32]) -> Result<usize, LossError> {
    let b = embeddings.dim(0)?;
    if labels.len() != b {
        return Err(LossError::LabelCount {
            embeddings: b,
            labels: labels.len(),
        });
    }
    Ok(b)
}

/// The mean triplet hinge `max(0, d[a][p] - d[a][n] + margin)` over the mined `(anchor, positive)`
/// and `(anchor, negative)` pairs (same length, matched by position) of the `(B, B)` distance matrix
/// `d`; [`LossError::NoTriplet`] when nothing was mined.
pub(crate) fn mean_hinge(
    d: &Tensor,
    labels: &[u32],
    pos: Vec<(usize, usize)>,
    neg: Vec<(usize, usize)>,
    margin: f64,
) -> Result<Tensor, LossError> {
    let b = labels.len();
    if pos.is_empty() {
        return Err(LossError::NoTriplet {
            batch: b,
            classes: class_count(labels),
        });
    }
    let dp = gather_entries(d, b, pos.into_iter())?;
    let dn = gather_entries(d, b, neg.into_iter())?;
    Ok(((dp - dn)? + margin)?.relu()?.mean_all()?)
}

/// Entries `d[i][j]` of a `(B, B)` matrix for the given `(i, j)`, as a differentiable `(N,)` tensor.
pub(crate) fn gather_entries(
    d: &Tensor,
    b: usize,
    entries: impl Iterator<Item = (usize, usize)>,
) -> candle_core::Result<Tensor> {
    let idx: Vec<u32> = entries.map(|(i, j)| (i * b + j) as u32).collect();
    let n = idx.len();
    let idx = Tensor::from_vec(idx, n, d.device())?;
    d.flatten_all()?.index_select(&idx, 0)
}

/// Number of distinct labels, for error messages.
pub(crate) fn class_count(labels: &[u32]) -> usize {
    let mut l = labels.to_vec();
    l.sort_unstable();
    l.dedup();
    l.len()
}
