//! Verification and retrieval metrics, exactly as `shared/REFERENCE.md` defines them.
//!
//! What: distances (`d`, smaller = more alike; a pair is accepted when `d <= t`) of genuine and
//! impostor trials go in; a ROC over every distinct distance, its AUC, the EER, TAR at a FAR, and
//! accuracy at a threshold chosen elsewhere come out, each rate with its trial counts and a 95%
//! confidence interval. Pair generation (all pairs of a held-out set, or seeded sampling),
//! retrieval scores (precision@1, MAP@R) and a JSON/Markdown report live here too.
//!
//! When: to judge any encoder or baseline on held-out identities. When not: to pick a threshold
//! on the test pairs themselves; choose it on training or validation pairs with
//! [`threshold::choose_threshold`] and apply it with [`threshold::at_threshold`].
//!
//! All rates are fractions in `[0, 1]` (the report and the Markdown renderer print percents).

pub mod interval;
pub mod pairs;
pub mod pipeline;
pub mod report;
pub mod retrieval;
pub mod roc;
pub mod score_norm;
pub mod spread;
pub mod threshold;

pub use interval::{Interval, IntervalMethod, Rate};
pub use pairs::{all_pairs, sample_pairs, Pair, Pairs, DEFAULT_PAIR_SEED};
pub use report::{BenchmarkReport, MethodReport, VerificationReport};
pub use retrieval::{retrieval_scores, RetrievalScores};
pub use roc::{Eer, OperatingPoint, Roc, RocPoint};
pub use spread::Spread;
pub use threshold::{at_threshold, choose_threshold, AtThreshold, ThresholdRule};

/// What can go wrong when computing metrics or drawing pairs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A metric needs at least one trial of each kind.
    #[error("no {kind} trials: a ROC needs at least one genuine and one impostor distance")]
    NoTrials {
        /// `"genuine"` or `"impostor"`.
        kind: &'static str,
    },
    /// A distance was NaN; distances must be comparable.
    #[error("{kind} distance #{index} is NaN")]
    NanDistance {
        /// `"genuine"` or `"impostor"`.
        kind: &'static str,
        /// Index of the offending distance in its slice.
        index: usize,
    },
    /// A target false-accept rate outside `[0, 1]`.
    #[error("target FAR {far} is outside [0, 1]")]
    BadFar {
        /// The rejected target.
        far: f64,
    },
    /// Pair sampling cannot draw the requested kind of pair from these labels.
    #[error("cannot draw {kind} pairs: {why}")]
    CannotSample {
        /// `"genuine"` or `"impostor"`.
        kind: &'static str,
        /// What the labels lack, e.g. "no class has two items".
        why: String,
    },
    /// Labels and items disagree in number.
    #[error("{what}: expected {expected} items, found {found}")]
    LengthMismatch {
        /// Which input.
        what: &'static str,
        /// Expected count.
        expected: usize,
        /// Found count.
        found: usize,
    },
}
