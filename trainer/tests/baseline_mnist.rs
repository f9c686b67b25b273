//! Raw L2 and the histogram on the MNIST open-set split against `shared/REFERENCE.md`.
//!
//! The reference drew its 20,000 + 20,000 pairs with another generator, so only a sampling-sized
//! agreement is expected: with 20,000 trials of each kind the 95% interval of an EER near 35% is
//! +-0.66 points, and six of our seeds spread raw L2 over 34.7-35.3 (all 11.8 million test pairs
//! give 34.87). Our own seed-42 values are pinned tighter, as a reproducibility check of the
//! sampler and the metrics. Skips without the data unless `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use siamedge_trainer::baseline::protocol::{mnist_open_set_split, run_method};
use siamedge_trainer::baseline::Method;
use siamedge_trainer::eval::pairs::DEFAULT_PAIR_SEED;
use siamedge_trainer::protocol::FAR_TARGETS;

/// `(method, reference EER %, our EER % with seed 42)`.
const EXPECTED: [(Method, f64, f64); 2] = [
    (Method::RawL2, 34.7, 35.18),
    (Method::HistogramL1, 47.6, 47.310_089),
];
/// Allowed distance from the reference (sampling), in percentage points.
const REFERENCE_TOLERANCE_PP: f64 = 0.7;

#[test]
fn open_set_raw_l2_and_histogram() {
    let Some(mnist) = common::mnist() else { return };
    let split = mnist_open_set_split(&mnist, DEFAULT_PAIR_SEED).unwrap();
    assert_eq!((split.train.ncols(), split.test.ncols()), (30_596, 4_861));
    for (method, reference, ours) in EXPECTED {
        let (fold, _) = run_method(method, &split, &FAR_TARGETS).unwrap();
        let v = &fold.verification;
        assert_eq!((v.genuine_trials, v.impostor_trials), (20_000, 20_000));
        let eer = 100.0 * v.eer.rate;
        assert!(
            (eer - reference).abs() <= REFERENCE_TOLERANCE_PP,
            "{method}: EER {eer:.3}%, reference {reference}%"
        );
        assert!(
            (eer - ours).abs() < 1e-4,
            "{method}: EER {eer}%, pinned {ours}% for seed {DEFAULT_PAIR_SEED}"
        );
    }
}
