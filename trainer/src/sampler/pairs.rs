//! Balanced genuine/impostor pairs.

use rand::Rng;

use super::SamplerError;
use crate::data::LabelledSet;

/// A pair of image indices and whether they share an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairIndex {
    /// First image.
    pub a: usize,
    /// Second image.
    pub b: usize,
    /// Same identity.
    pub genuine: bool,
}

/// `n` pairs, alternating genuine and impostor (genuine first, so `ceil(n/2)` genuine).
///
/// A genuine pair takes a uniformly chosen identity with 2+ images and two distinct images of it; an
/// impostor pair takes two distinct identities, uniformly, and one image of each. Needs one identity
/// with 2+ images and two identities in all.
pub fn sample_pairs<R: Rng>(
    set: &LabelledSet,
    n: usize,
    rng: &mut R,
) -> Result<Vec<PairIndex>, SamplerError> {
    let multi = set.classes_with_at_least(2);
    let all = set.classes();
    if multi.is_empty() {
        return Err(SamplerError::TooFewClasses {
            needed: 1,
            per_class: 2,
            found: 0,
        });
    }
    if all.len() < 2 {
        return Err(SamplerError::TooFewClasses {
            needed: 2,
            per_class: 1,
            found: all.len(),
        });
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i % 2 == 0 {
            let idx = set.indices_of(multi[rng.random_range(0..multi.len())]);
            let (x, y) = two_distinct(idx.len(), rng);
            out.push(PairIndex {
                a: idx[x],
                b: idx[y],
                genuine: true,
            });
        } else {
            let (x, y) = two_distinct(all.len(), rng);
            let ia = set.indices_of(all[x]);
            let ib = set.indices_of(all[y]);
            out.push(PairIndex {
                a: ia[rng.random_range(0..ia.len())],
                b: ib[rng.random_range(0..ib.len())],
                genuine: false,
            });
        }
    }
    Ok(out)
}

/// Two distinct indices below `len` (`len >= 2`), uniformly among ordered pairs.
pub(crate) fn two_distinct<R: Rng>(len: usize, rng: &mut R) -> (usize, usize) {
    let x = rng.random_range(0..len);
    let y = rng.random_range(0..len - 1);
    (x, if y >= x { y + 1 } else { y })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::ImageShape;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn set() -> LabelledSet {
        let labels = vec![0, 0, 0, 1, 1, 2];
        LabelledSet::new(vec![0.0; 6], labels, ImageShape::grey(1, 1)).unwrap()
    }

    #[test]
    fn balanced_correct_and_reproducible() {
        let s = set();
        let draw = |seed| sample_pairs(&s, 101, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        let pairs = draw(9);
        assert_eq!(pairs, draw(9));
        assert_ne!(pairs, draw(10));
        assert_eq!(pairs.iter().filter(|p| p.genuine).count(), 51);
        for p in &pairs {
            assert_ne!(p.a, p.b);
            assert_eq!(p.genuine, s.labels()[p.a] == s.labels()[p.b]);
        }
    }

    #[test]
    fn one_identity_is_not_enough() {
        let s = LabelledSet::new(vec![0.0; 2], vec![4, 4], ImageShape::grey(1, 1)).unwrap();
        let err = sample_pairs(&s, 2, &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err();
        assert_eq!(
            err,
            SamplerError::TooFewClasses {
                needed: 2,
                per_class: 1,
                found: 1
            }
        );
    }
}
