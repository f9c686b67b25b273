//! `export` ships thresholds measured on people the network never saw: a run without validation
//! people (thresholds from its training people) is refused unless forced, also when its model file
//! comes in through `--sgm`; the card's `folds` gather runs of the same recipe (any seed) and
//! refuse another recipe. Tiny runs on ORL fold 0 (28x23, a few steps); skips without the cached
//! data unless `SIAMEDGE_REQUIRE_DATA=1`.

mod common;

use std::path::{Path, PathBuf};

use siamedge_trainer::export::{export_bundle, BundleError, ExportOptions};
use siamedge_trainer::quant::pipeline::{quantize_run, QuantizeOptions};
use siamedge_trainer::train::{train_recipe, Recipe};

fn train(cache: &Path, out: &Path, val_people: usize, seed: u64) {
    train_recipe(
        &Recipe {
            out: Some(out.to_path_buf()),
            cache: Some(cache.to_path_buf()),
            fold: Some(0),
            height: Some(28),
            width: Some(23),
            widths: Some(vec![4, 8]),
            dim: Some(16),
            steps: Some(12),
            batch: Some(32),
            warmup: Some(2),
            val_people: Some(val_people),
            eval_every: Some(0),
            seed: Some(seed),
            ..Recipe::default()
        },
        false,
    )
    .unwrap();
}

fn options(cache: &Path, run: &Path, out: &Path) -> ExportOptions {
    ExportOptions {
        run: run.to_path_buf(),
        name: "m".into(),
        out: out.to_path_buf(),
        sgm: None,
        percentile: 100.0,
        calibration_images: 50,
        cache: Some(cache.to_path_buf()),
        limit: None,
        no_baselines: true,
        force: false,
        fold_runs: Vec::new(),
        notes: Vec::new(),
    }
}

#[test]
fn export_refuses_training_people_thresholds_and_gathers_the_folds() {
    let Some(cache) = common::cache() else { return };
    if common::orl().is_none() {
        return;
    }
    let cache = cache.root().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| -> PathBuf { dir.path().join(name) };
    train(&cache, &run("val-s0"), 5, 0);
    train(&cache, &run("val-s1"), 5, 1);
    train(&cache, &run("noval"), 0, 0);

    // Thresholds from the training people: refused, nothing written, the reason printed.
    let out = dir.path().join("out");
    let err = export_bundle(&options(&cache, &run("noval"), &out)).unwrap_err();
    assert!(
        matches!(err, BundleError::TrainingThresholds { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("--force") && msg.contains("--val-people"),
        "{msg}"
    );
    assert!(!out.join("m/model.sgm").exists());
    // The same file given with --sgm is recognised by its thresholds.
    let (bytes, _) = quantize_run(
        &QuantizeOptions {
            calib_images: 50,
            percentile: 100.0,
            cache: Some(cache.clone()),
            ..QuantizeOptions::ptq(run("noval"))
        },
        |_, _| {},
    )
    .unwrap();
    let sgm = dir.path().join("noval.sgm");
    std::fs::write(&sgm, bytes).unwrap();
    let given = ExportOptions {
        sgm: Some(sgm),
        ..options(&cache, &run("noval"), &out)
    };
    let err = export_bundle(&given).unwrap_err();
    assert!(
        matches!(err, BundleError::TrainingThresholds { .. }),
        "{err}"
    );
    // Forced: shipped, and the card says where the thresholds came from.
    let card = export_bundle(&ExportOptions {
        force: true,
        ..options(&cache, &run("noval"), &out)
    })
    .unwrap();
    assert!(
        card.thresholds[0].calibrated_on.contains("training"),
        "{card:?}"
    );
    assert!(card.folds.is_empty() && card.fold_summary.is_none());

    // A run with validation people: exported, with both seeds in the card's folds.
    let card = export_bundle(&ExportOptions {
        fold_runs: vec![run("val-s0"), run("val-s1")],
        ..options(&cache, &run("val-s0"), &out)
    })
    .unwrap();
    assert!(
        card.thresholds[0].calibrated_on.contains("validation"),
        "{card:?}"
    );
    assert_eq!(card.folds.len(), 1);
    let fold = &card.folds[0];
    assert_eq!((fold.fold, fold.seeds.clone()), (0, vec![0, 1]));
    let mean = (fold.runs[0].int8.eer.rate + fold.runs[1].int8.eer.rate) / 2.0;
    assert!((fold.int8.eer - mean).abs() < 1e-12);
    for r in &fold.runs {
        assert_eq!(r.thresholds_from, "validation identities");
        assert_eq!(r.operating_points.len(), card.thresholds.len());
        // The shipped run's own row is the card's: same PTQ, same thresholds.
        if r.seed == 0 {
            assert_eq!(
                r.operating_points[0].threshold,
                card.thresholds[0].threshold
            );
        }
    }
    let summary = card.fold_summary.as_ref().unwrap();
    assert_eq!(summary.seeds, vec![0, 1]);
    assert_eq!(summary.int8_mean_eer.n, 2);
    // Scripts read folds[k].int8.eer from card.json.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("m/card.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], 3);
    assert!(json["folds"][0]["int8"]["eer"].as_f64().is_some());
    assert!(json["folds"][0]["f32"]["eer"].as_f64().is_some());
    let md = std::fs::read_to_string(out.join("m/CARD.md")).unwrap();
    assert!(md.contains("## Every fold"), "{md}");

    // Another recipe among the fold runs is refused by name.
    let err = export_bundle(&ExportOptions {
        fold_runs: vec![run("val-s1"), run("noval")],
        ..options(&cache, &run("val-s0"), &out)
    })
    .unwrap_err();
    assert!(matches!(err, BundleError::OtherRecipe { .. }), "{err}");
    assert!(err.to_string().contains("noval"), "{err}");
}
