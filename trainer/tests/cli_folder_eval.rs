//! The user-data path end to end, in seconds: an image folder of generated PNGs is trained on with
//! `train --data folder`, logged to `log.jsonl`, and judged by `eval` beside the baselines, with
//! the JSON report, the Markdown summary and the plots written.

use std::path::{Path, PathBuf};

use siamedge_trainer::eval::pipeline::{evaluate_runs, EvalOptions};
use siamedge_trainer::eval::BenchmarkReport;
use siamedge_trainer::protocol::DataKind;
use siamedge_trainer::train::{read_log, train_recipe, Recipe};

/// `people` identities x `per` images of 20x16: a per-identity bar pattern with a random
/// shift and noise, as PNG (some as PGM) in `root/p{i}/`.
fn write_folder(root: &Path, people: u32, per: u32) {
    let mut state = 12345u32;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for p in 0..people {
        let dir = root.join(format!("p{p:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per {
            let shift = rand() % 3;
            let img = image::GrayImage::from_fn(16, 20, |x, y| {
                let on = ((x + shift) / (2 + p % 4)) % 2 == 0 || (y / (3 + p / 4)) % 2 == 0;
                let base: u32 = if on { 200 } else { 40 };
                image::Luma([(base + rand() % 30) as u8])
            });
            let ext = if i % 3 == 0 { "pgm" } else { "png" };
            img.save(dir.join(format!("{i}.{ext}"))).unwrap();
        }
    }
}

/// `eval` of `runs` into `out`, with the baselines and plots.
fn eval_args(runs: Vec<PathBuf>, out: PathBuf) -> EvalOptions {
    EvalOptions {
        run: runs,
        out: Some(out),
        weights: None,
        cache: None,
        data_dir: None,
        no_baselines: false,
        no_plots: false,
        flip_tta: false,
        validation: false,
        threshold_impostors: None,
    }
}

#[test]
fn train_then_eval_on_an_image_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces");
    write_folder(&data, 12, 6);
    let out = dir.path().join("run");
    let args = Recipe {
        out: Some(out.clone()),
        data: Some(DataKind::Folder),
        data_dir: Some(data.clone()),
        folds: Some(3),
        fold: Some(1),
        height: Some(16),
        width: Some(12),
        widths: Some(vec![4, 8]),
        dim: Some(16),
        steps: Some(24),
        batch: Some(16),
        warmup: Some(4),
        val_people: Some(2),
        eval_every: Some(8),
        log_every: Some(5),
        ..Recipe::default()
    };
    train_recipe(&args, false).unwrap();
    let log = read_log(&out.join("log.jsonl")).unwrap();
    let steps: Vec<usize> = log.iter().map(|r| r.step).collect();
    assert_eq!(steps, [5, 8, 10, 15, 16, 20, 24], "{log:?}");
    assert_eq!(log.iter().filter(|r| r.validation_eer.is_some()).count(), 3);

    let report_dir = dir.path().join("report");
    evaluate_runs(&eval_args(vec![out.clone()], report_dir.clone())).unwrap();
    let report: BenchmarkReport =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    let ids: Vec<&str> = report.methods.iter().map(|m| m.method.as_str()).collect();
    assert_eq!(
        ids,
        [
            "siamese-cnn",
            "raw-l2",
            "pca-l2",
            "pca-whitened",
            "lda-l2",
            "histogram-l1"
        ]
    );
    // Fold 1 of 3 over 12 identities tests on 4 identities x 6 images: C(24, 2) = 276 pairs, 60
    // of them genuine; every method sees the same trials.
    for m in &report.methods {
        let v = &m.folds[0].verification;
        assert_eq!(
            (v.genuine_trials, v.impostor_trials),
            (60, 216),
            "{}",
            m.method
        );
        assert!(m.folds[0].at_train_threshold.is_some());
        assert!(v.retrieval.is_some());
    }
    let ours = &report.methods[0].folds[0].verification;
    assert!(
        ours.auc > 0.6,
        "the trained encoder is no better than chance: {ours:?}"
    );
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(
        md.contains("Siamese CNN (candle)") && md.contains("Fisher LDA"),
        "{md}"
    );
    for stem in ["roc", "det", "histogram", "curves", "embedding_map"] {
        for ext in ["png", "svg"] {
            let f = report_dir.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&f)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} missing or empty",
                f.display()
            );
        }
    }
}

/// The folds of one recipe, evaluated together: one report whose every method holds each fold in
/// the order given and their mean; a run of another recipe is refused by name.
#[test]
fn several_folds_make_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces");
    write_folder(&data, 12, 4);
    let args = |fold: usize, dim: usize| Recipe {
        out: Some(dir.path().join(format!("run{fold}-{dim}"))),
        data: Some(DataKind::Folder),
        data_dir: Some(data.clone()),
        folds: Some(3),
        fold: Some(fold),
        height: Some(16),
        width: Some(12),
        widths: Some(vec![4, 8]),
        dim: Some(dim),
        steps: Some(6),
        batch: Some(16),
        warmup: Some(1),
        val_people: Some(0),
        ..Recipe::default()
    };
    for (fold, dim) in [(2, 8), (0, 8), (0, 16)] {
        train_recipe(&args(fold, dim), false).unwrap();
    }
    let report_dir = dir.path().join("report");
    let runs = vec![dir.path().join("run2-8"), dir.path().join("run0-8")];
    evaluate_runs(&eval_args(runs, report_dir.clone())).unwrap();
    let report: BenchmarkReport = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("report/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report.methods.len(), 6);
    for m in &report.methods {
        let folds: Vec<&str> = m.folds.iter().map(|f| f.fold.as_str()).collect();
        assert_eq!(folds, ["2", "0"], "{}", m.method);
        let mean = (m.folds[0].verification.eer.rate + m.folds[1].verification.eer.rate) / 2.0;
        assert!((m.mean.eer - mean).abs() < 1e-12, "{}", m.method);
    }
    // Plots only for a single run.
    assert!(!dir.path().join("report/roc.png").exists());

    let mixed = vec![dir.path().join("run0-8"), dir.path().join("run0-16")];
    let err = evaluate_runs(&eval_args(mixed, report_dir)).unwrap_err();
    assert!(format!("{err:#}").contains("run0-16"), "{err:#}");
}

#[test]
fn a_folder_run_without_data_dir_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let err = train_recipe(
        &Recipe {
            out: Some(dir.path().join("run")),
            data: Some(DataKind::Folder),
            ..Recipe::default()
        },
        false,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("--data-dir"), "{err:#}");
}
