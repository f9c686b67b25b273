//! The evaluation API end to end: pairs -> distances -> ROC metrics -> report JSON and Markdown,
//! through the public interface only, with values worked by hand.

use siamedge_trainer::eval::pairs::all_pairs;
use siamedge_trainer::eval::report::{
    BenchmarkReport, FoldReport, MeanReport, MethodReport, TrainThreshold, VerificationReport,
    REPORT_SCHEMA_VERSION,
};
use siamedge_trainer::eval::retrieval::retrieval_scores;
use siamedge_trainer::eval::threshold::{at_threshold, choose_threshold, ThresholdRule};

/// Six items on a line (integers, so distances are exact), two identities: a = {0, 1, 5},
/// b = {4, 10, 12}.
const X: [f64; 6] = [0.0, 1.0, 5.0, 4.0, 10.0, 12.0];
const LABELS: [u32; 6] = [0, 0, 0, 1, 1, 1];

fn distance(i: usize, j: usize) -> f64 {
    (X[i] - X[j]).abs()
}

// Pairs: genuine (0,1) 1, (0,2) 5, (1,2) 4, (3,4) 6, (3,5) 8, (4,5) 2;
// impostor (0,3) 4, (0,4) 10, (0,5) 12, (1,3) 3, (1,4) 9, (1,5) 11, (2,3) 1, (2,4) 5, (2,5) 7.
// Sorted with kinds: 1 g+i, 2 g, 3 i, 4 g+i, 5 g+i, 6 g, 7 i, 8 g, 9 i, 10 i, 11 i, 12 i.
// ROC (FA/9, TA/6): (0,0) (1,1) (1,2) (2,2) (3,3) (4,4) (4,5) (5,5) (5,6) ...
// FRR - FAR in 54ths: start 54; (1,1): 45-6=39; (1,2): 36-6=30; (2,2): 36-12=24; (3,3): 27-18=9;
// (4,4): 18-24=-6 -> first FRR <= FAR at t = 5. alpha = 9 / 15 = 3/5 between FAR 3/9 and 4/9:
// EER = 1/3 + 3/5 * 1/9 = 2/5.
#[test]
fn pairs_to_report() {
    let pairs = all_pairs(&LABELS);
    assert_eq!((pairs.genuine.len(), pairs.impostor.len()), (6, 9));
    let (g, i) = pairs.distances(distance);
    let v = VerificationReport::from_distances(&g, &i, &[0.0, 0.25]).unwrap();
    assert_eq!((v.genuine_trials, v.impostor_trials), (6, 9));
    assert!((v.eer.rate - 0.4).abs() < 1e-12, "{:?}", v.eer);
    assert_eq!(v.eer.at.threshold, 5.0);
    // TAR@FAR=0: only the start point (t = 1 already holds an impostor) -> 0.
    let t0 = v.tar_at(0.0).unwrap();
    assert_eq!((t0.point.tar.count, t0.point.far.count), (0, 0));
    // TAR@FAR=0.25: FA <= 2.25 -> points up to (2,2) at t = 3; the largest TA is 2, first
    // reached at (1,2), t = 2, with one false accept.
    let t = v.tar_at(0.25).unwrap();
    assert_eq!(
        (t.point.tar.count, t.point.far.count, t.point.threshold),
        (2, 1, 2.0)
    );

    // Threshold chosen on these "training" trials, applied to shifted "test" distances.
    let th = choose_threshold(&g, &i, ThresholdRule::Eer).unwrap();
    let test_g: Vec<f64> = g.iter().map(|d| d + 0.5).collect();
    let test = at_threshold(&test_g, &i, th).unwrap();
    // Genuine + 0.5 <= 5: 1.5, 4.5, 2.5 -> 3 of 6; impostors <= 5: 4, 3, 1, 5 -> 4.
    assert_eq!((test.tar.count, test.far.count), (3, 4));

    let mut fold = FoldReport {
        fold: "0".into(),
        seconds: 0.0,
        verification: v,
        at_train_threshold: Some(TrainThreshold {
            rule: ThresholdRule::Eer,
            test,
        }),
    };
    fold.verification.retrieval = Some(retrieval_scores(&LABELS, distance).unwrap());
    let folds = vec![fold];
    let report = BenchmarkReport {
        schema_version: REPORT_SCHEMA_VERSION,
        dataset: "line".into(),
        protocol: "six points".into(),
        pair_seed: None,
        far_targets: vec![0.0, 0.25],
        methods: vec![MethodReport {
            method: "abs".into(),
            name: "absolute difference".into(),
            detail: String::new(),
            mean: MeanReport::of(&folds),
            folds,
        }],
    };
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schema_version"], REPORT_SCHEMA_VERSION);
    let f = &json["methods"][0]["folds"][0];
    assert_eq!(f["verification"]["eer"]["at"]["far"]["count"], 4);
    assert_eq!(
        f["verification"]["tar_at_far"][0]["threshold"],
        serde_json::Value::Null
    );
    assert_eq!(f["at_train_threshold"]["rule"], "eer");
    assert_eq!(f["at_train_threshold"]["accuracy"]["count"], 3 + 5);
    assert!(f["verification"]["retrieval"]["map_at_r"].is_number());
    let md = report.to_markdown();
    assert!(
        md.contains("| absolute difference | 40.0 | 40.0 | 0.0 |"),
        "{md}"
    );
}
