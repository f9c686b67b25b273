//! P x K identity batches (Hermans et al.): P distinct identities, K images of each, for batch-hard and
//! semi-hard mining and for classification-style losses.

use rand::seq::index::sample;
use rand::Rng;

use super::SamplerError;
use crate::data::LabelledSet;

/// Image indices and their labels, identity by identity (`K` consecutive entries per identity).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkBatch {
    /// `P * K` image indices.
    pub indices: Vec<usize>,
    /// The label of each index.
    pub labels: Vec<u32>,
}

/// P identities drawn without replacement among those with 2+ images; from each, K images without
/// replacement when it has K or more, otherwise all of its images followed by random repeats.
pub fn sample_pk<R: Rng>(
    set: &LabelledSet,
    p: usize,
    k: usize,
    rng: &mut R,
) -> Result<PkBatch, SamplerError> {
    let eligible = set.classes_with_at_least(2);
    if eligible.len() < p || p == 0 || k < 2 {
        return Err(SamplerError::TooFewClasses {
            needed: p.max(1),
            per_class: k.max(2),
            found: eligible.len(),
        });
    }
    let mut indices = Vec::with_capacity(p * k);
    let mut labels = Vec::with_capacity(p * k);
    for ci in sample(rng, eligible.len(), p).into_iter() {
        let class = eligible[ci];
        let idx = set.indices_of(class);
        if idx.len() >= k {
            indices.extend(sample(rng, idx.len(), k).into_iter().map(|j| idx[j]));
        } else {
            indices.extend_from_slice(idx);
            for _ in idx.len()..k {
                indices.push(idx[rng.random_range(0..idx.len())]);
            }
        }
        labels.extend(std::iter::repeat_n(class, k));
    }
    Ok(PkBatch { indices, labels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn p_identities_k_images_each() {
        let labels: Vec<u32> = (0..40).map(|i| i / 10).collect();
        let s = LabelledSet::new(vec![0.0; 40], labels.clone(), ImageShape::grey(1, 1)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let b = sample_pk(&s, 3, 4, &mut rng).unwrap();
        assert_eq!(b.indices.len(), 12);
        let mut seen = b.labels.clone();
        seen.dedup();
        assert_eq!(seen.len(), 3);
        for (chunk, lab) in b.indices.chunks(4).zip(b.labels.chunks(4)) {
            let mut c = chunk.to_vec();
            c.sort_unstable();
            c.dedup();
            assert_eq!(c.len(), 4, "no repeats when the identity has enough images");
            assert!(chunk.iter().all(|&i| labels[i] == lab[0]));
        }
        assert_eq!(
            b,
            sample_pk(&s, 3, 4, &mut ChaCha8Rng::seed_from_u64(2)).unwrap()
        );
        assert!(matches!(
            sample_pk(&s, 5, 4, &mut rng),
            Err(SamplerError::TooFewClasses {
                needed: 5,
                found: 4,
                ..
            })
        ));
    }

    #[test]
    fn small_identities_are_topped_up_with_repeats() {
        let s = LabelledSet::new(vec![0.0; 4], vec![0, 0, 1, 1], ImageShape::grey(1, 1)).unwrap();
        let b = sample_pk(&s, 2, 3, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(b.indices.len(), 6);
        for chunk in b.indices.chunks(3) {
            assert_ne!(chunk[0], chunk[1]);
        }
    }
}
