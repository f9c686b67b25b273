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
}
