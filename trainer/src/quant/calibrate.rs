//! Activation ranges for post-training quantization: run the folded float model on a sample of
//! training images and record, for every weighted layer's output, the minimum, the maximum and a
//! percentile of the absolute values (clipping rare outliers buys resolution for the rest).
//!
//! Use training images only (never test identities). A few hundred images are enough for the
//! encoders here; the values are kept in memory (one f32 per activation element per image).

use super::fold::{FoldedEncoder, FoldedLayer};
use super::QuantError;

/// How a range is read from the recorded values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeRule {
    /// The largest absolute value seen.
    MinMax,
    /// This percentile (in `(0, 100]`, e.g. `99.99`) of the absolute values.
    Percentile(f64),
}

impl RangeRule {
    /// Checks the percentile.
    pub fn validate(self) -> Result<Self, QuantError> {
        match self {
            RangeRule::Percentile(p) if !(p > 0.0 && p <= 100.0) => Err(QuantError::Config {
                field: "percentile",
                reason: format!("{p} is not in (0, 100]"),
            }),
            r => Ok(r),
        }
    }
}

/// The recorded range of one layer output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRange {
    /// Smallest value seen.
    pub min: f32,
    /// Largest value seen.
    pub max: f32,
    /// The rule's bound on `|x|` (the largest `|x|` for [`RangeRule::MinMax`]).
    pub bound: f32,
}

/// Ranges of every weighted layer's output (`None` for pools and the L2 normalization, which keep
/// or fix their quantization).
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// One entry per layer of the folded encoder.
    pub ranges: Vec<Option<TensorRange>>,
    /// Images seen.
    pub images: usize,
    /// The rule used.
    pub rule: RangeRule,
}

/// Records the ranges of `folded`'s weighted layers over `images` (NHWC, the trainer's pixel
/// scale). Fails on an empty sample or an image of the wrong size.
pub fn calibrate<'a>(
    folded: &FoldedEncoder,
    images: impl IntoIterator<Item = &'a [f32]>,
    rule: RangeRule,
) -> Result<Calibration, QuantError> {
    let rule = rule.validate()?;
    let weighted: Vec<bool> = folded
        .layers
        .iter()
        .map(|l| {
            matches!(
                l,
                FoldedLayer::Conv2d { .. } | FoldedLayer::Depthwise { .. } | FoldedLayer::Dense { .. }
            )
        })
        .collect();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); folded.layers.len()];
    let mut extremes = vec![(f32::INFINITY, f32::NEG_INFINITY); folded.layers.len()];
    let mut n = 0;
    for image in images {
        n += 1;
        for (i, act) in folded.trace(image)?.into_iter().enumerate() {
            if !weighted[i] {
                continue;
            }
            let e = &mut extremes[i];
            for &v in &act.data {
                e.0 = e.0.min(v);
                e.1 = e.1.max(v);
            }
            if matches!(rule, RangeRule::Percentile(_)) {
                values[i].extend(act.data.iter().map(|v| v.abs()));
            }
        }
    }
    if n == 0 {
        return Err(QuantError::Config {
            field: "calib_images",
            reason: "no calibration images".into(),
        });
    }
    let ranges = (0..folded.layers.len())
        .map(|i| {
            weighted[i].then(|| {
                let (min, max) = extremes[i];
                let bound = match rule {
                    RangeRule::MinMax => min.abs().max(max.abs()),
                    RangeRule::Percentile(p) => percentile(&mut values[i], p),
                };
                TensorRange { min, max, bound }
            })
        })
        .collect();
    Ok(Calibration {
        ranges,
        images: n,
        rule,
    })
}

/// The `p`-th percentile (nearest rank, `p` in `(0, 100]`) of `v` (reordered in place); 0 for an
/// empty slice.
pub fn percentile(v: &mut [f32], p: f64) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    let k = rank.clamp(1, v.len()) - 1;
    let (_, x, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let mut v: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(percentile(&mut v, 100.0), 100.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 0.1), 1.0);
        assert_eq!(percentile(&mut [], 50.0), 0.0);
    }

    #[test]
    fn ranges_of_a_tiny_encoder() {
        let folded = FoldedEncoder {
            input: (2, 2, 1),
            layers: vec![
                FoldedLayer::Conv2d {
                    in_c: 1,
                    out_c: 1,
                    kernel: 1,
                    padding: 0,
                    weight: vec![2.0],
                    bias: vec![-1.0],
                    relu: true,
                },
                FoldedLayer::MaxPool2,
                FoldedLayer::Dense {
                    in_len: 1,
                    out: 1,
                    weight: vec![-1.0],
                    bias: vec![0.0],
                },
            ],
        };
        let imgs = [vec![0.0, 0.25, 1.0, 2.0], vec![0.0, 0.0, 0.0, 3.0]];
        let c = calibrate(&folded, imgs.iter().map(|v| v.as_slice()), RangeRule::MinMax).unwrap();
        assert_eq!(c.images, 2);
        let conv = c.ranges[0].unwrap();
        assert_eq!((conv.min, conv.max, conv.bound), (0.0, 5.0, 5.0));
        assert!(c.ranges[1].is_none());
        let dense = c.ranges[2].unwrap();
        assert_eq!((dense.min, dense.max, dense.bound), (-5.0, -3.0, 5.0));
        let p = calibrate(
            &folded,
            imgs.iter().map(|v| v.as_slice()),
            RangeRule::Percentile(50.0),
        )
        .unwrap();
        assert_eq!(p.ranges[0].unwrap().bound, 0.0);
        assert!(RangeRule::Percentile(0.0).validate().is_err());
        assert!(calibrate(&folded, std::iter::empty(), RangeRule::MinMax).is_err());
    }
}
