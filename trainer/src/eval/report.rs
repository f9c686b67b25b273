//! The evaluation report: a JSON document (serde) and a Markdown table renderer.
//!
//! # JSON schema, version [`REPORT_SCHEMA_VERSION`]
//! All rates are fractions in `[0, 1]`; thresholds are distances (accept when `d <= t`) and `null`
//! means `-inf` (accept nothing). A `Rate` is `{count, total, value, ci95}` and an `Interval` is
//! `{lower, upper, method}` with `method` one of `wilson`, `rule_of_three`, `hanley_mc_neil`,
//! `normal_mean`, `no_trials`.
//! ```text
//! BenchmarkReport {
//!   schema_version: u32,            // REPORT_SCHEMA_VERSION; bumped on any incompatible change
//!   dataset: string,                // "orl", "mnist", ...
//!   protocol: string,               // one line: splits, pairs, image size, seed
//!   pair_seed: u64 | null,          // seed of sampled pairs (absent meaning: all pairs)
//!   far_targets: [f64],             // the FARs of every tar_at_far list, in order
//!   methods: [MethodReport {
//!     method: string,               // short id ("raw-l2", "pca-l2", ...)
//!     name: string,                 // as printed in tables
//!     detail: string,               // what was fitted (dims kept, variance, ...)
//!     folds: [FoldReport {
//!       fold: string,               // "0".."3" for ORL, "open-set" for MNIST
//!       seconds: f64,               // fit + embed + score wall time
//!       verification: VerificationReport {
//!         genuine_trials: u64, impostor_trials: u64,
//!         auc: f64, auc_ci95: Interval,
//!         eer: { rate: f64, ci95: Interval, at: OperatingPoint },
//!         tar_at_far: [{ target_far: f64, threshold: f64 | null, far: Rate, tar: Rate }],
//!         retrieval: { queries, precision_at_1: Rate, map_at_r, map_at_r_ci95 } (optional)
//!       },
//!       at_train_threshold: {       // optional: test decisions at the threshold chosen on
//!         rule: "eer" | {far: f64}, //   training pairs by this rule
//!         threshold: f64 | null, tar: Rate, far: Rate, frr: Rate, accuracy: Rate, hter: f64
//!       }
//!     }],
//!     mean: { eer: f64, auc: f64, tar_at_far: [{ target_far: f64, tar: f64 }] }  // over folds
//!   }]
//! }
//! ```

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::interval::Interval;
use super::retrieval::RetrievalScores;
use super::roc::{Eer, OperatingPoint, Roc};
use super::threshold::{AtThreshold, ThresholdRule};
use super::EvalError;

/// Version of the JSON layout documented in this module.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// TAR at one target FAR: the operating point [`Roc::tar_at_far`] found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TarAtFar {
    /// The FAR asked for, in `[0, 1]`.
    pub target_far: f64,
    /// The point: threshold, false accepts over impostor trials, true accepts over genuine trials.
    #[serde(flatten)]
    pub point: OperatingPoint,
}

/// Verification metrics of one set of test trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationReport {
    /// Genuine (same identity) trials.
    pub genuine_trials: u64,
    /// Impostor (different identity) trials.
    pub impostor_trials: u64,
    /// Area under the ROC, in `[0, 1]`.
    pub auc: f64,
    /// Hanley-McNeil 95% interval of `auc`.
    pub auc_ci95: Interval,
    /// Equal error rate, its interval and operating point.
    pub eer: Eer,
    /// TAR at each target FAR.
    pub tar_at_far: Vec<TarAtFar>,
    /// Retrieval scores over the same test items, when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrieval: Option<RetrievalScores>,
}

impl VerificationReport {
    /// Metrics of a ROC, with TAR at each of `far_targets` (each in `[0, 1]`).
    pub fn from_roc(roc: &Roc, far_targets: &[f64]) -> Result<Self, EvalError> {
        let tar_at_far = far_targets
            .iter()
            .map(|&f| {
                Ok(TarAtFar {
                    target_far: f,
                    point: roc.tar_at_far(f)?,
                })
            })
            .collect::<Result<_, EvalError>>()?;
        Ok(Self {
            genuine_trials: roc.genuine_trials(),
            impostor_trials: roc.impostor_trials(),
            auc: roc.auc(),
            auc_ci95: roc.auc_ci95(),
            eer: roc.eer(),
            tar_at_far,
            retrieval: None,
        })
    }

    /// Metrics of `genuine` and `impostor` distances, with TAR at each of `far_targets`.
    pub fn from_distances(
        genuine: &[f64],
        impostor: &[f64],
        far_targets: &[f64],
    ) -> Result<Self, EvalError> {
        Self::from_roc(&Roc::new(genuine, impostor)?, far_targets)
    }

    /// The TAR entry for `target_far`, if it was computed.
    pub fn tar_at(&self, target_far: f64) -> Option<&TarAtFar> {
        self.tar_at_far.iter().find(|t| t.target_far == target_far)
    }
}

/// Test decisions at a threshold chosen on training trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainThreshold {
    /// How the threshold was chosen on the training trials.
    pub rule: ThresholdRule,
    /// The decisions on the test trials.
    #[serde(flatten)]
    pub test: AtThreshold,
}

/// One fold (or the one open-set split) of one method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    /// Fold name: `"0"`..`"3"` for ORL, `"open-set"` for MNIST.
    pub fold: String,
    /// Wall time of fit, embedding and scoring, in seconds.
    pub seconds: f64,
    /// Metrics on the test trials.
    pub verification: VerificationReport,
    /// Test decisions at the threshold chosen on training trials, when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_train_threshold: Option<TrainThreshold>,
}

/// Mean TAR at one target FAR over folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanTar {
    /// The FAR asked for.
    pub target_far: f64,
    /// Mean over folds of the TAR, in `[0, 1]`.
    pub tar: f64,
}

/// Means over folds (unweighted: each fold counts once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanReport {
    /// Mean EER, in `[0, 1]`.
    pub eer: f64,
    /// Mean AUC, in `[0, 1]`.
    pub auc: f64,
    /// Mean TAR at each target FAR.
    pub tar_at_far: Vec<MeanTar>,
}

impl MeanReport {
    /// The means of `folds` (all with the same FAR targets); zeros when there are none.
    pub fn of(folds: &[FoldReport]) -> Self {
        let n = folds.len().max(1) as f64;
        let mean = |f: &dyn Fn(&FoldReport) -> f64| folds.iter().map(f).sum::<f64>() / n;
        let targets: Vec<f64> = folds
            .first()
            .map(|f| {
                f.verification
                    .tar_at_far
                    .iter()
                    .map(|t| t.target_far)
                    .collect()
            })
            .unwrap_or_default();
        Self {
            eer: mean(&|f| f.verification.eer.rate),
            auc: mean(&|f| f.verification.auc),
            tar_at_far: targets
                .iter()
                .map(|&t| MeanTar {
                    target_far: t,
                    tar: mean(&|f| f.verification.tar_at(t).map_or(0.0, |x| x.point.tar.value)),
                })
                .collect(),
        }
    }
}

/// All folds of one method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodReport {
    /// Short id, e.g. `"raw-l2"`.
    pub method: String,
    /// Name as printed in tables, e.g. `"raw pixels, L2"`.
    pub name: String,
    /// What was fitted, e.g. `"PCA 95%: 118 of 2576 dims"` (per fold, `;`-separated).
    pub detail: String,
    /// One entry per fold, in fold order.
    pub folds: Vec<FoldReport>,
    /// Means over `folds`.
    pub mean: MeanReport,
}

/// A whole benchmark run: one data set, one protocol, several methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkReport {
    /// [`REPORT_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// Data set id, e.g. `"orl"`.
    pub dataset: String,
    /// One line describing splits, pairs, image size and seed.
    pub protocol: String,
    /// Seed of sampled pairs; `None` when all pairs are used.
    pub pair_seed: Option<u64>,
    /// The target FARs of every `tar_at_far` list, in order.
    pub far_targets: Vec<f64>,
    /// One entry per method.
    pub methods: Vec<MethodReport>,
}

impl BenchmarkReport {
    /// Renders a summary table (EER per fold, mean EER, mean TAR at the first FAR target, mean AUC,
    /// as in `shared/REFERENCE.md`) and a per-fold table with counts and 95% intervals.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let folds: Vec<&str> = self
            .methods
            .first()
            .map(|m| m.folds.iter().map(|f| f.fold.as_str()).collect())
            .unwrap_or_default();
        let far = self.far_targets.first().copied();
        let far_label = far.map_or_else(|| "-".to_string(), |f| format!("{f:e}"));
        let _ = writeln!(s, "### {}: {}\n", self.dataset, self.protocol);
        let _ = writeln!(
            s,
            "| method | EER %, folds {} | mean EER % | TAR@FAR={far_label} % (mean) | AUC (mean) |",
            folds.join("/")
        );
        s.push_str("|---|---|---|---|---|\n");
        for m in &self.methods {
            let eers: Vec<String> = m
                .folds
                .iter()
                .map(|f| pct(f.verification.eer.rate))
                .collect();
            let tar = m
                .mean
                .tar_at_far
                .first()
                .map_or_else(|| "-".into(), |t| pct(t.tar));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.4} |",
                m.name,
                eers.join(" / "),
                pct(m.mean.eer),
                tar,
                m.mean.auc
            );
        }
        s.push('\n');
        let _ = writeln!(
            s,
            "| method | fold | EER % [95% CI] | TAR@FAR={far_label} % (TA/genuine, FA/impostor) \
             | AUC [95% CI] | test at train-EER threshold: FAR %, FRR % |"
        );
        s.push_str("|---|---|---|---|---|---|\n");
        for m in &self.methods {
            for f in &m.folds {
                let v = &f.verification;
                let tar = far.and_then(|t| v.tar_at(t)).map_or_else(
                    || "-".into(),
                    |t| {
                        format!(
                            "{} ({}/{}, {}/{})",
                            pct(t.point.tar.value),
                            t.point.tar.count,
                            t.point.tar.total,
                            t.point.far.count,
                            t.point.far.total
                        )
                    },
                );
                let train = f.at_train_threshold.map_or_else(
                    || "-".into(),
                    |t| format!("{}, {}", pct(t.test.far.value), pct(t.test.frr.value)),
                );
                let _ = writeln!(
                    s,
                    "| {} | {} | {} [{}, {}] | {} | {:.4} [{:.4}, {:.4}] | {} |",
                    m.name,
                    f.fold,
                    pct(v.eer.rate),
                    pct(v.eer.ci95.lower),
                    pct(v.eer.ci95.upper),
                    tar,
                    v.auc,
                    v.auc_ci95.lower,
                    v.auc_ci95.upper,
                    train
                );
            }
        }
        s
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}", 100.0 * x)
}

/// Serde for thresholds: finite values as numbers, `-inf` (accept nothing) as `null`, `+inf` as
/// `f64::MAX` (accept every finite distance); `null` reads back as `-inf`.
pub(crate) mod threshold_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &f64, s: S) -> Result<S::Ok, S::Error> {
        if *t == f64::NEG_INFINITY {
            s.serialize_none()
        } else if *t == f64::INFINITY {
            s.serialize_some(&f64::MAX)
        } else {
            s.serialize_some(t)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NEG_INFINITY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::threshold::at_threshold;

    fn sample() -> BenchmarkReport {
        let folds: Vec<FoldReport> = [(0.0, "0"), (1.0, "1")]
            .iter()
            .map(|&(shift, name)| {
                let g = [1.0 + shift, 2.0, 3.0];
                let i = [2.0, 4.0, 5.0, 6.0];
                FoldReport {
                    fold: name.into(),
                    seconds: 0.5,
                    verification: VerificationReport::from_distances(&g, &i, &[0.0, 0.25]).unwrap(),
                    at_train_threshold: Some(TrainThreshold {
                        rule: ThresholdRule::Eer,
                        test: at_threshold(&g, &i, 2.5).unwrap(),
                    }),
                }
            })
            .collect();
        let mean = MeanReport::of(&folds);
        BenchmarkReport {
            schema_version: REPORT_SCHEMA_VERSION,
            dataset: "toy".into(),
            protocol: "two folds".into(),
            pair_seed: None,
            far_targets: vec![0.0, 0.25],
            methods: vec![MethodReport {
                method: "toy".into(),
                name: "toy, L2".into(),
                detail: String::new(),
                folds,
                mean,
            }],
        }
    }

    /// Structural equality with a relative tolerance on numbers (serde_json's default float parser
    /// may differ from the printed value in the last bit).
    fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                (x - y).abs() <= 1e-15 * x.abs().max(y.abs())
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_close(p, q))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
            }
            _ => a == b,
        }
    }

    #[test]
    fn json_round_trips() {
        let r = sample();
        let json = serde_json::to_string_pretty(&r).unwrap();
        let back: BenchmarkReport = serde_json::from_str(&json).unwrap();
        assert!(json_close(
            &serde_json::to_value(&back).unwrap(),
            &serde_json::to_value(&r).unwrap()
        ));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let tar = &v["methods"][0]["folds"][0]["verification"]["tar_at_far"][1];
        assert_eq!(tar["target_far"], 0.25);
        assert_eq!(tar["threshold"], 3.0);
        assert_eq!(tar["far"]["count"], 1);
        assert_eq!(
            v["methods"][0]["folds"][0]["at_train_threshold"]["rule"],
            "eer"
        );
    }

    #[test]
    fn means_and_markdown() {
        let r = sample();
        // Fold 0 (see roc.rs): EER 1/4. Fold 1: genuine 2 2 3 vs 2 4 5 6: points (0,0) (1/4,2/3)
        // (1/4,1) ...; FRR - FAR at (1/4, 2/3) is 1/12 > 0, at (1/4, 1) -1/4 -> EER 1/4.
        let m = &r.methods[0].mean;
        assert!((m.eer - 0.25).abs() < 1e-12, "{m:?}");
        // TAR@FAR=0: fold 0 = 1/3, fold 1 = 0 -> mean 1/6.
        assert!((m.tar_at_far[0].tar - 1.0 / 6.0).abs() < 1e-12);
        let md = r.to_markdown();
        assert!(
            md.contains("| toy, L2 | 25.0 / 25.0 | 25.0 | 16.7 |"),
            "{md}"
        );
        assert!(md.contains("| toy, L2 | 0 | 25.0 ["), "{md}");
        assert!(md.contains("33.3 (1/3, 0/4)"), "{md}");
    }
}
