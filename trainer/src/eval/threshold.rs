//! Choosing a decision threshold on one set of trials and applying it to another.
//!
//! The threshold of a deployed verifier is fixed before it sees the people it will judge: choose it
//! on training or validation pairs ([`choose_threshold`]), then measure accuracy and error rates on
//! the test pairs at that threshold ([`at_threshold`]). Never choose it on the test pairs: that
//! reports an optimistic number no device could reach.

use serde::{Deserialize, Serialize};

use super::interval::Rate;
use super::roc::{check_trials, Roc};
use super::EvalError;

/// How to choose a threshold on a set of trials. JSON: `"eer"` or `{"far": 0.001}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdRule {
    /// The threshold of the EER point ([`super::roc::Eer::at`]): the smallest one with FRR <= FAR.
    Eer,
    /// The threshold of the TAR@FAR point for this target FAR in `[0, 1]`
    /// ([`Roc::tar_at_far`]); `-inf` (accept nothing) when no distance keeps FAR at or below it.
    Far(f64),
    /// For a target FAR in `(0, 1)`, from a normal fit to the impostor distances:
    /// `mean + sd * Phi^-1(far)` (sample mean and standard deviation; `Phi^-1` the standard normal
    /// quantile). Reaches below the smallest impostor distance, where a handful of calibration
    /// people give no empirical point (1,000 impostor pairs cannot show a FAR of 1e-4), at the
    /// price of assuming the tail is normal.
    NormalFar(f64),
}

/// The standard normal quantile `Phi^-1(p)` for `p` in `(0, 1)` (Acklam's rational
/// approximation, relative error below 1.2e-9); `-inf` at 0, `+inf` at 1, NaN outside.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Chooses a threshold on `genuine` and `impostor` distances (training or validation trials) by
/// `rule`. Accept a test trial when `d <= threshold`.
pub fn choose_threshold(
    genuine: &[f64],
    impostor: &[f64],
    rule: ThresholdRule,
) -> Result<f64, EvalError> {
    let roc = Roc::new(genuine, impostor)?;
    Ok(match rule {
        ThresholdRule::Eer => roc.eer().at.threshold,
        ThresholdRule::Far(far) => roc.tar_at_far(far)?.threshold,
        ThresholdRule::NormalFar(far) => {
            if !(far > 0.0 && far < 1.0) {
                return Err(EvalError::BadFar { far });
            }
            let n = impostor.len() as f64;
            let mean = impostor.iter().sum::<f64>() / n;
            let var = impostor.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
            mean + var.sqrt() * normal_quantile(far)
        }
    })
}

/// The decisions "accept when `d <= threshold`" on a set of trials, counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AtThreshold {
    /// The threshold applied (`null` in JSON for `-inf`, accept nothing).
    #[serde(with = "super::report::threshold_serde")]
    pub threshold: f64,
    /// Genuine trials accepted.
    pub tar: Rate,
    /// Impostor trials accepted.
    pub far: Rate,
    /// Genuine trials rejected.
    pub frr: Rate,
    /// Correct decisions (genuine accepted, impostor rejected) over all trials. Dominated by the
    /// impostors when they outnumber the genuine trials; see also `hter`.
    pub accuracy: Rate,
    /// Half total error rate, `(FAR + FRR) / 2`, in `[0, 1]`: one minus the balanced accuracy.
    pub hter: f64,
}

/// Applies `threshold` (chosen elsewhere) to `genuine` and `impostor` distances. Fails when either
/// slice is empty or holds a NaN.
pub fn at_threshold(
    genuine: &[f64],
    impostor: &[f64],
    threshold: f64,
) -> Result<AtThreshold, EvalError> {
    check_trials("genuine", genuine)?;
    check_trials("impostor", impostor)?;
    let ta = genuine.iter().filter(|&&d| d <= threshold).count() as u64;
    let fa = impostor.iter().filter(|&&d| d <= threshold).count() as u64;
    let (ng, ni) = (genuine.len() as u64, impostor.len() as u64);
    let tar = Rate::new(ta, ng);
    let far = Rate::new(fa, ni);
    let frr = tar.complement();
    Ok(AtThreshold {
        threshold,
        tar,
        far,
        frr,
        accuracy: Rate::new(ta + (ni - fa), ng + ni),
        hter: (far.value + frr.value) / 2.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_on_train_apply_on_test() {
        // Train: EER point of 1g 2g 2i 3g 4i 5i 6i is t = 3 (see roc.rs); FAR 1/4 point also t = 3.
        let t =
            choose_threshold(&[1.0, 2.0, 3.0], &[2.0, 4.0, 5.0, 6.0], ThresholdRule::Eer).unwrap();
        assert_eq!(t, 3.0);
        let t0 = choose_threshold(
            &[1.0, 2.0, 3.0],
            &[2.0, 4.0, 5.0, 6.0],
            ThresholdRule::Far(0.0),
        )
        .unwrap();
        assert_eq!(t0, 1.0);
        // Test at t = 3: genuine 2.5 and 3 accepted, 3.5 rejected; impostor 1 accepted, 4 and 9
        // not.
        let r = at_threshold(&[2.5, 3.0, 3.5], &[1.0, 4.0, 9.0], t).unwrap();
        assert_eq!((r.tar.count, r.far.count, r.frr.count), (2, 1, 1));
        assert_eq!((r.accuracy.count, r.accuracy.total), (4, 6));
        assert!((r.hter - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn far_rule_may_accept_nothing() {
        let t = choose_threshold(&[2.0], &[1.0], ThresholdRule::Far(0.0)).unwrap();
        assert_eq!(t, f64::NEG_INFINITY);
        let r = at_threshold(&[0.0], &[5.0], t).unwrap();
        assert_eq!((r.tar.count, r.far.count), (0, 0));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.starts_with(r#"{"threshold":null,"#), "{json}");
        let back: AtThreshold = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.threshold, back.tar, back.far),
            (r.threshold, r.tar, r.far)
        );
    }

    #[test]
    fn bad_inputs_fail() {
        assert!(at_threshold(&[], &[1.0], 0.0).is_err());
        assert!(choose_threshold(&[1.0], &[2.0], ThresholdRule::Far(2.0)).is_err());
    }

    #[test]
    fn normal_quantiles_and_the_normal_tail_rule() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (1e-3, -3.090_232_306_167_813),
            (1e-2, -2.326_347_874_040_841),
            (0.9, 1.281_551_565_544_600_5),
        ] {
            assert!(
                (normal_quantile(p) - z).abs() < 1e-8,
                "{p}: {}",
                normal_quantile(p)
            );
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert!(normal_quantile(1.5).is_nan());
        // Impostors with mean 2 and sd 0.5: the 1e-3 threshold sits 3.09 sd below the mean,
        // below every impostor seen.
        let impostor = [1.5, 2.5, 1.5, 2.5];
        let sd = (4.0f64 / 3.0 * 0.25).sqrt();
        let t = choose_threshold(&[0.1], &impostor, ThresholdRule::NormalFar(1e-3)).unwrap();
        assert!((t - (2.0 + sd * normal_quantile(1e-3))).abs() < 1e-12);
        assert!(choose_threshold(&[0.1], &impostor, ThresholdRule::NormalFar(0.0)).is_err());
    }
}
