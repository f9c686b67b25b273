//! Random triplets (anchor, positive, negative).

use rand::Rng;

use super::pairs::two_distinct;
use super::SamplerError;
use crate::data::LabelledSet;

/// Image indices of a triplet: `anchor` and `positive` share an identity, `negative` does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TripletIndex {
    /// Anchor image.
    pub anchor: usize,
    /// Another image of the anchor's identity.
    pub positive: usize,
    /// An image of another identity.
    pub negative: usize,
}

/// `n` triplets: the anchor identity uniform among those with 2+ images, two distinct images of it,
/// then a uniformly chosen other identity and one of its images.
pub fn sample_triplets<R: Rng>(
    set: &LabelledSet,
    n: usize,
    rng: &mut R,
) -> Result<Vec<TripletIndex>, SamplerError> {
    let multi = set.classes_with_at_least(2);
    let all = set.classes();
    if multi.is_empty() || all.len() < 2 {
        return Err(SamplerError::TooFewClasses {
            needed: 2,
            per_class: 1,
            found: if multi.is_empty() { 0 } else { all.len() },
        });
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let class = multi[rng.random_range(0..multi.len())];
        let idx = set.indices_of(class);
        let (x, y) = two_distinct(idx.len(), rng);
        let own = all.iter().position(|&c| c == class).unwrap_or(0);
        let r = rng.random_range(0..all.len() - 1);
        let neg = set.indices_of(all[if r >= own { r + 1 } else { r }]);
        out.push(TripletIndex {
            anchor: idx[x],
            positive: idx[y],
            negative: neg[rng.random_range(0..neg.len())],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn triplets_are_valid_and_reproducible() {
        let labels = vec![7, 7, 3, 3, 3, 9];
        let s = LabelledSet::new(vec![0.0; 6], labels.clone(), ImageShape::grey(1, 1)).unwrap();
        let t = sample_triplets(&s, 200, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
        assert_eq!(
            t,
            sample_triplets(&s, 200, &mut ChaCha8Rng::seed_from_u64(1)).unwrap()
        );
        for x in &t {
            assert_ne!(x.anchor, x.positive);
            assert_eq!(labels[x.anchor], labels[x.positive]);
            assert_ne!(labels[x.anchor], labels[x.negative]);
        }
        assert!(t.iter().any(|x| labels[x.negative] == 9));
        assert!(t
            .iter()
            .any(|x| labels[x.anchor] == 7 && labels[x.negative] == 3));
    }
}
