//! The ROC of a verifier from genuine and impostor distances, its AUC, EER and TAR at a given FAR.
//!
//! Definitions (`shared/REFERENCE.md`): `d` is a distance, a trial is accepted when `d <= t`.
//! The ROC has one point per distinct distance `t` (trials with equal distances move together),
//! preceded by the start point (FAR 0, TAR 0) that accepts nothing. AUC is the trapezoid area under
//! the points; EER is taken at the first point where FRR <= FAR, linearly interpolated with the
//! point before to where FRR = FAR; TAR@FAR=f is the largest TAR among points with FAR <= f, with
//! no interpolation. Cost: one sort, `O(n log n)` in the number of trials.

use serde::{Deserialize, Serialize};

use super::interval::{Interval, Rate};
use super::EvalError;

/// One point of the ROC: the decision "accept when `d <= threshold`" and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// Accept when `d <= threshold`; `-inf` for the start point, which accepts nothing.
    pub threshold: f64,
    /// Impostor trials accepted at this threshold.
    pub false_accepts: u64,
    /// Genuine trials accepted at this threshold.
    pub true_accepts: u64,
    /// False-accept rate, `false_accepts / impostor trials`, in `[0, 1]`.
    pub far: f64,
    /// True-accept rate, `true_accepts / genuine trials`, in `[0, 1]`.
    pub tar: f64,
}

impl RocPoint {
    /// False-reject rate, `1 - tar`, in `[0, 1]`.
    pub fn frr(&self) -> f64 {
        1.0 - self.tar
    }
}

/// A decision threshold and the rates it gives, with counts and 95% intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// Accept when `d <= threshold`; `-inf` accepts nothing (`null` in JSON).
    #[serde(with = "super::report::threshold_serde")]
    pub threshold: f64,
    /// False accepts over impostor trials.
    pub far: Rate,
    /// True accepts over genuine trials.
    pub tar: Rate,
}

impl OperatingPoint {
    /// False rejects over genuine trials.
    pub fn frr(&self) -> Rate {
        self.tar.complement()
    }
}

/// The equal error rate and where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Eer {
    /// The interpolated rate where FRR = FAR, a fraction in `[0, 1]`.
    pub rate: f64,
    /// Approximate 95% interval: Wilson for a proportion `rate` over the smaller of the two trial
    /// counts (the EER is a mix of two rates, so this is a guide, not an exact interval).
    pub ci95: Interval,
    /// The first ROC point with FRR <= FAR: the smallest threshold whose FRR does not exceed its
    /// FAR, with its counts. Its threshold is what [`super::threshold::ThresholdRule::Eer`] picks.
    pub at: OperatingPoint,
}

/// A ROC over every distinct distance, with the trial counts it was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Roc {
    points: Vec<RocPoint>,
    genuine: u64,
    impostor: u64,
}

impl Roc {
    /// Builds the ROC of `genuine` and `impostor` distances (any finite or infinite values; smaller
    /// means more alike). Fails when either slice is empty or holds a NaN.
    pub fn new(genuine: &[f64], impostor: &[f64]) -> Result<Self, EvalError> {
        check_trials("genuine", genuine)?;
        check_trials("impostor", impostor)?;
        let mut trials: Vec<(f64, bool)> = genuine
            .iter()
            .map(|&d| (d, true))
            .chain(impostor.iter().map(|&d| (d, false)))
            .collect();
        trials.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (n_gen, n_imp) = (genuine.len() as u64, impostor.len() as u64);
        let mut points = Vec::with_capacity(trials.len() + 1);
        points.push(point(f64::NEG_INFINITY, 0, 0, n_gen, n_imp));
        let (mut ta, mut fa) = (0u64, 0u64);
        let mut i = 0;
        while i < trials.len() {
            let t = trials[i].0;
            // `==` after the total order groups -0.0 with 0.0.
            while i < trials.len() && trials[i].0 == t {
                if trials[i].1 {
                    ta += 1;
                } else {
                    fa += 1;
                }
                i += 1;
            }
            points.push(point(t, fa, ta, n_gen, n_imp));
        }
        Ok(Self {
            points,
            genuine: n_gen,
            impostor: n_imp,
        })
    }

    /// The points, from the start point (FAR 0, TAR 0) to the last distance (FAR 1, TAR 1), by
    /// increasing threshold; FAR and TAR never decrease along them.
    pub fn points(&self) -> &[RocPoint] {
        &self.points
    }

    /// Number of genuine trials.
    pub fn genuine_trials(&self) -> u64 {
        self.genuine
    }

    /// Number of impostor trials.
    pub fn impostor_trials(&self) -> u64 {
        self.impostor
    }

    /// Area under the ROC by the trapezoid rule, in `[0, 1]`: 1 for perfect separation, 0.5 for
    /// chance. Equals the Mann-Whitney probability that a genuine distance is below an impostor
    /// one, ties counted half.
    pub fn auc(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[1].far - w[0].far) * (w[1].tar + w[0].tar) / 2.0)
            .sum()
    }

    /// The Hanley-McNeil 95% interval of [`Roc::auc`].
    pub fn auc_ci95(&self) -> Interval {
        Interval::auc_hanley_mcneil(self.auc(), self.genuine, self.impostor)
    }

    /// The equal error rate: at the first point where FRR <= FAR, linearly interpolated with the
    /// point before to where FRR = FAR.
    pub fn eer(&self) -> Eer {
        // FRR - FAR in units of 1 / (genuine * impostor), exact in integers. The start point has
        // FRR 1 > FAR 0 (there is a genuine trial) and the last has FRR 0 <= FAR 1, so the index
        // exists and is at least 1.
        let gap = |p: &RocPoint| -> i128 {
            i128::from(self.genuine - p.true_accepts) * i128::from(self.impostor)
                - i128::from(p.false_accepts) * i128::from(self.genuine)
        };
        let i = self
            .points
            .iter()
            .position(|p| gap(p) <= 0)
            .unwrap_or(self.points.len() - 1)
            .max(1);
        let (a, b) = (&self.points[i - 1], &self.points[i]);
        let (da, db) = (gap(a), gap(b));
        let alpha = if da > db {
            da as f64 / (da - db) as f64
        } else {
            1.0
        };
        let rate = a.far + alpha * (b.far - a.far);
        Eer {
            rate,
            ci95: Interval::wilson(rate, self.genuine.min(self.impostor)),
            at: self.operating_point(i),
        }
    }

    /// TAR at FAR = `far`: the largest TAR among points with FAR <= `far`, no interpolation. Of the
    /// points with that TAR, the one with the smallest threshold (fewest false accepts) is
    /// returned.
    /// Fails when `far` is not in `[0, 1]`.
    pub fn tar_at_far(&self, far: f64) -> Result<OperatingPoint, EvalError> {
        if !(0.0..=1.0).contains(&far) {
            return Err(EvalError::BadFar { far });
        }
        // FAR and TAR never decrease, so the last point with FAR <= far has the largest TAR; step
        // back over earlier points with the same TAR.
        let mut i = self.points.iter().rposition(|p| p.far <= far).unwrap_or(0);
        while i > 0 && self.points[i - 1].true_accepts == self.points[i].true_accepts {
            i -= 1;
        }
        Ok(self.operating_point(i))
    }

    fn operating_point(&self, i: usize) -> OperatingPoint {
        let p = &self.points[i];
        OperatingPoint {
            threshold: p.threshold,
            far: Rate::new(p.false_accepts, self.impostor),
            tar: Rate::new(p.true_accepts, self.genuine),
        }
    }
}

fn point(
    threshold: f64,
    false_accepts: u64,
    true_accepts: u64,
    n_gen: u64,
    n_imp: u64,
) -> RocPoint {
    RocPoint {
        threshold,
        false_accepts,
        true_accepts,
        far: false_accepts as f64 / n_imp as f64,
        tar: true_accepts as f64 / n_gen as f64,
    }
}

pub(crate) fn check_trials(kind: &'static str, d: &[f64]) -> Result<(), EvalError> {
    if d.is_empty() {
        return Err(EvalError::NoTrials { kind });
    }
    match d.iter().position(|x| x.is_nan()) {
        Some(index) => Err(EvalError::NanDistance { kind, index }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    fn far_tar(roc: &Roc) -> Vec<(f64, f64)> {
        roc.points().iter().map(|p| (p.far, p.tar)).collect()
    }

    // Worked by hand. Sorted: 1g 2g 2i 3g 4i 5i 6i (3 genuine, 4 impostor).
    // Points (FAR, TAR): (0,0) (0,1/3) (1/4,2/3) (1/4,1) (1/2,1) (3/4,1) (1,1); the tie at 2 moves
    // both kinds at once. AUC = 1/4 * (1/3 + 2/3) / 2 + 3/4 * 1 = 0.875 (Mann-Whitney: 10.5 / 12).
    // FRR - FAR: 1, 2/3, 1/12, -1/4 -> first point with FRR <= FAR is t = 3; interpolating from
    // (FAR 1/4, FRR 1/3) to (1/4, 0) by alpha = (1/12) / (1/12 + 1/4) = 1/4 gives EER = 1/4.
    #[test]
    fn hand_worked_example_with_a_tie() {
        let roc = Roc::new(&[1.0, 2.0, 3.0], &[2.0, 4.0, 5.0, 6.0]).unwrap();
        let expect = [
            (0.0, 0.0),
            (0.0, 1.0 / 3.0),
            (0.25, 2.0 / 3.0),
            (0.25, 1.0),
            (0.5, 1.0),
            (0.75, 1.0),
            (1.0, 1.0),
        ];
        assert_eq!(far_tar(&roc), expect);
        assert!(close(roc.auc(), 0.875));
        let eer = roc.eer();
        assert!(close(eer.rate, 0.25), "{eer:?}");
        assert_eq!(eer.at.threshold, 3.0);
        assert_eq!((eer.at.far.count, eer.at.tar.count), (1, 3));
        let op = roc.tar_at_far(0.0).unwrap();
        assert_eq!((op.threshold, op.tar.count, op.far.count), (1.0, 1, 0));
        let op = roc.tar_at_far(0.2).unwrap();
        assert_eq!((op.threshold, op.tar.count, op.far.count), (1.0, 1, 0));
        let op = roc.tar_at_far(0.25).unwrap();
        assert_eq!((op.threshold, op.tar.count, op.far.count), (3.0, 3, 1));
        let op = roc.tar_at_far(1.0).unwrap();
        assert_eq!((op.threshold, op.tar.count, op.far.count), (3.0, 3, 1));
    }

    // Sorted: 1g 2g 3g 3.5i 4g 5i. FRR - FAR: 1, 3/4, 1/2, 1/4, then at t = 3.5 (FAR 1/2, FRR 1/4)
    // -1/4. alpha = (1/4) / (1/4 + 1/4) = 1/2, EER = 0 + 1/2 * 1/2 = 1/4 (and FRR: 1/4 + 0 = 1/4).
    // AUC: the first impostor is above 3 of 4 genuine, the second above all: (3 + 4) / 8 = 0.875.
    #[test]
    fn eer_interpolates_between_points() {
        let roc = Roc::new(&[1.0, 2.0, 3.0, 4.0], &[3.5, 5.0]).unwrap();
        let eer = roc.eer();
        assert!(close(eer.rate, 0.25), "{eer:?}");
        assert_eq!(eer.at.threshold, 3.5);
        assert!(close(roc.auc(), 0.875));
    }

    // Sorted: 1g 1.5i 2g 5g 6i 7i. At t = 2: FAR 1/3, FRR 1/3 exactly, where 1.0 - 2.0 / 3.0 in
    // floating point is 0.33333333333333337 > 1.0 / 3.0; counts decide, so the EER point is t = 2.
    #[test]
    fn frr_equal_far_is_decided_in_counts() {
        let roc = Roc::new(&[1.0, 2.0, 5.0], &[1.5, 6.0, 7.0]).unwrap();
        let eer = roc.eer();
        assert_eq!(eer.at.threshold, 2.0);
        assert!(close(eer.rate, 1.0 / 3.0), "{eer:?}");
    }

    #[test]
    fn perfect_separation() {
        let roc = Roc::new(&[0.1, 0.2], &[0.3, 0.4, 0.5]).unwrap();
        assert_eq!(roc.auc(), 1.0);
        let eer = roc.eer();
        assert_eq!(eer.rate, 0.0);
        assert_eq!(eer.at.threshold, 0.2);
        let op = roc.tar_at_far(0.0).unwrap();
        assert_eq!((op.tar.value, op.far.count, op.threshold), (1.0, 0, 0.2));
    }

    #[test]
    fn reversed_separation() {
        let roc = Roc::new(&[3.0, 4.0], &[1.0, 2.0]).unwrap();
        assert_eq!(roc.auc(), 0.0);
        assert_eq!(roc.eer().rate, 1.0);
        let op = roc.tar_at_far(0.4).unwrap();
        assert_eq!((op.tar.count, op.threshold), (0, f64::NEG_INFINITY));
    }

    #[test]
    fn all_equal_distances() {
        let roc = Roc::new(&[1.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(far_tar(&roc), [(0.0, 0.0), (1.0, 1.0)]);
        assert_eq!(roc.auc(), 0.5);
        assert_eq!(roc.eer().rate, 0.5);
        let op = roc.tar_at_far(1e-3).unwrap();
        assert_eq!(
            (op.tar.count, op.far.count, op.threshold),
            (0, 0, f64::NEG_INFINITY)
        );
        assert_eq!(roc.tar_at_far(1.0).unwrap().tar.count, 2);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let roc = Roc::new(&[-0.0], &[0.0]).unwrap();
        assert_eq!(roc.points().len(), 2);
        assert_eq!(roc.auc(), 0.5);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            Roc::new(&[], &[1.0]),
            Err(EvalError::NoTrials { kind: "genuine" })
        );
        assert_eq!(
            Roc::new(&[1.0], &[]),
            Err(EvalError::NoTrials { kind: "impostor" })
        );
        assert_eq!(
            Roc::new(&[1.0], &[0.0, f64::NAN]),
            Err(EvalError::NanDistance {
                kind: "impostor",
                index: 1
            })
        );
        let roc = Roc::new(&[1.0], &[2.0]).unwrap();
        assert!(roc.tar_at_far(1.5).is_err());
        assert!(roc.tar_at_far(f64::NAN).is_err());
    }

    /// Slow reference: thresholds = sorted distinct distances, each counted by a full scan.
    fn naive_points(g: &[f64], i: &[f64]) -> Vec<(u64, u64)> {
        let mut ts: Vec<f64> = g.iter().chain(i).copied().collect();
        ts.sort_by(f64::total_cmp);
        ts.dedup();
        let mut pts = vec![(0, 0)];
        for t in ts {
            let fa = i.iter().filter(|&&d| d <= t).count() as u64;
            let ta = g.iter().filter(|&&d| d <= t).count() as u64;
            pts.push((fa, ta));
        }
        pts
    }

    /// Slow reference: Mann-Whitney over all genuine x impostor pairs, ties counted half.
    fn naive_auc(g: &[f64], i: &[f64]) -> f64 {
        let mut s = 0.0;
        for &a in g {
            for &b in i {
                s += if a < b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                };
            }
        }
        s / (g.len() * i.len()) as f64
    }

    /// Slow reference EER: scan the naive points for the first FRR <= FAR (compared exactly, in
    /// counts: `(ng - ta) * ni <= fa * ng`), interpolate in rates.
    fn naive_eer(g: &[f64], i: &[f64]) -> f64 {
        let (ng, ni) = (g.len() as u64, i.len() as u64);
        let pts = naive_points(g, i);
        let rates = |(fa, ta): (u64, u64)| (fa as f64 / ni as f64, (ng - ta) as f64 / ng as f64);
        for k in 1..pts.len() {
            let (fa, ta) = pts[k];
            if (ng - ta) * ni <= fa * ng {
                let ((far0, frr0), (far, frr)) = (rates(pts[k - 1]), rates(pts[k]));
                let (d0, d1) = (frr0 - far0, frr - far);
                return far0 + d0 / (d0 - d1) * (far - far0);
            }
        }
        unreachable!("the last point has FRR 0")
    }

    // Distances on a coarse grid so that ties are frequent.
    fn distances(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec((0u8..20).prop_map(|x| f64::from(x) / 4.0), 1..max_len)
    }

    proptest! {
        #[test]
        fn matches_naive_reference(g in distances(40), i in distances(60), far in 0.0f64..=1.0) {
            let roc = Roc::new(&g, &i).unwrap();
            let naive = naive_points(&g, &i);
            let fast: Vec<(u64, u64)> =
                roc.points().iter().map(|p| (p.false_accepts, p.true_accepts)).collect();
            prop_assert_eq!(&fast, &naive);
            prop_assert!((roc.auc() - naive_auc(&g, &i)).abs() < 1e-9);
            prop_assert!((roc.eer().rate - naive_eer(&g, &i)).abs() < 1e-9);
            let ni = i.len() as f64;
            let best = naive
                .iter()
                .filter(|&&(fa, _)| fa as f64 / ni <= far)
                .map(|&(_, ta)| ta)
                .max()
                .unwrap();
            let op = roc.tar_at_far(far).unwrap();
            prop_assert_eq!(op.tar.count, best);
            prop_assert!(op.far.value <= far);
        }
    }
}
