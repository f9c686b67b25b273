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
