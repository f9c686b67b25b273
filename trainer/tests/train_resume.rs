//! Checkpoints: a run interrupted and resumed from its checkpoint ends bit-identical to the
//! uninterrupted run; a corrupted checkpoint is refused; a non-finite loss stops the run and names
//! the last good checkpoint, which still loads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamedge_trainer::data::{ImageShape, LabelledSet};
use siamedge_trainer::loss::LossKind;
use siamedge_trainer::model::EncoderConfig;
use siamedge_trainer::sampler::Augment;
use siamedge_trainer::train::{run, OptimizerKind, RunOptions, TrainConfig, TrainError, Trainer};

fn synthetic() -> LabelledSet {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for c in 0..6u32 {
        let proto: Vec<f32> = (0..144).map(|_| rng.random::<f32>()).collect();
        for _ in 0..6 {
            pixels.extend(
                proto
                    .iter()
                    .map(|p| (p + 0.2 * (rng.random::<f32>() - 0.5)).clamp(0.0, 1.0)),
            );
            labels.push(c);
        }
    }
    LabelledSet::new(pixels, labels, ImageShape::grey(12, 12)).unwrap()
}

fn config(loss: LossKind, optimizer: OptimizerKind) -> TrainConfig {
    let mut cfg = TrainConfig::reference(12, 12, 8);
    cfg.model.encoder = EncoderConfig {
        widths: vec![4, 8],
        ..EncoderConfig::reference(12, 12, 8)
    };
    cfg.loss = loss;
    cfg.steps = 10;
    cfg.batch = 6;
    cfg.per_identity = 3;
    cfg.optimizer.kind = optimizer;
    cfg.optimizer.warmup_steps = 3;
    cfg.augment = Augment::faces();
    cfg.seed = 11;
    cfg
}

fn weights(t: &Trainer) -> Vec<(String, Vec<f32>)> {
    let mut w: Vec<(String, Vec<f32>)> = t
        .weights()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

fn resume_equals_uninterrupted(loss: LossKind, optimizer: OptimizerKind) {
    let set = synthetic();
    let val = set.filter_classes(|c| c >= 3);
    let train = set.filter_classes(|c| c < 3);
    let cfg = config(loss, optimizer);
    let opts = |dir: &std::path::Path| RunOptions {
        checkpoint_dir: Some(dir.to_path_buf()),
        checkpoint_every: 5,
        eval_every: 4,
        ..RunOptions::default()
    };

    let dir_a = tempfile::tempdir().unwrap();
    let mut a = Trainer::new(cfg.clone(), &train).unwrap();
    let whole = run(&mut a, &train, Some(&val), &opts(dir_a.path()), |_| {}).unwrap();

    let dir_b = tempfile::tempdir().unwrap();
    let mut b = Trainer::new(cfg, &train).unwrap();
    let first = run(
        &mut b,
        &train,
        Some(&val),
        &RunOptions {
            max_steps_this_call: Some(5),
            ..opts(dir_b.path())
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(first.step, 5);
    drop(b);
    let mut c = Trainer::resume(&dir_b.path().join("last.json"), &train).unwrap();
    assert_eq!(c.step_index(), 5);
    let second = run(&mut c, &train, Some(&val), &opts(dir_b.path()), |_| {}).unwrap();

    let mut resumed = first.losses.clone();
    resumed.extend(&second.losses);
    assert_eq!(resumed, whole.losses, "{loss:?}/{optimizer:?}");
    assert_eq!(c.losses(), a.losses());
    assert_eq!(second.best, whole.best);
    assert_eq!(weights(&c), weights(&a), "{loss:?}/{optimizer:?}");
}

#[test]
fn resume_equals_uninterrupted_adamw_batch_hard() {
    resume_equals_uninterrupted(LossKind::BatchHard, OptimizerKind::Adamw);
}

#[test]
fn resume_equals_uninterrupted_sgd_contrastive() {
    resume_equals_uninterrupted(LossKind::Contrastive, OptimizerKind::Sgd);
}

#[test]
fn a_corrupted_checkpoint_is_refused() {
    let set = synthetic();
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(config(LossKind::BatchHard, OptimizerKind::Adamw), &set).unwrap();
    t.step(&set).unwrap();
    let sidecar = t.save(dir.path(), "last").unwrap();
    let weights = dir.path().join("last.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x40;
    std::fs::write(&weights, bytes).unwrap();
    match Trainer::resume(&sidecar, &set) {
        Err(TrainError::Checkpoint { path, reason }) => {
            assert_eq!(path, weights);
            assert!(reason.contains("sha256"), "{reason}");
        }
        other => panic!("expected a checkpoint error, got {:?}", other.err()),
    }
}

#[test]
fn a_nan_loss_stops_and_keeps_the_last_good_checkpoint() {
    let set = synthetic();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(LossKind::Contrastive, OptimizerKind::Sgd);
    cfg.optimizer.lr = 1e30;
    cfg.optimizer.warmup_steps = 0;
    cfg.steps = 50;
    let mut t = Trainer::new(cfg, &set).unwrap();
    let opts = RunOptions {
        checkpoint_dir: Some(dir.path().to_path_buf()),
        checkpoint_every: 1,
        ..RunOptions::default()
    };
    match run(&mut t, &set, None, &opts, |_| {}) {
        Err(TrainError::NonFiniteLoss {
            step,
            last_checkpoint,
            ..
        }) => {
            let path = last_checkpoint.expect("a checkpoint was written before the NaN");
            let good = Trainer::resume(&path, &set).unwrap();
            assert_eq!(good.step_index(), step);
            assert!(good.losses().iter().all(|l| l.is_finite()));
            let msg = TrainError::NonFiniteLoss {
                step,
                loss: f32::NAN,
                last_checkpoint: Some(path.clone()),
            }
            .to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        other => panic!("expected a non-finite loss, got {other:?}"),
    }
}

#[test]
fn a_stop_request_checkpoints_the_step_and_resumes_to_the_same_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let set = synthetic();
    let cfg = config(LossKind::BatchHard, OptimizerKind::Adamw);
    let mut a = Trainer::new(cfg.clone(), &set).unwrap();
    let whole = run(&mut a, &set, None, &RunOptions::default(), |_| {}).unwrap();
    assert!(!whole.interrupted);

    // What the Ctrl-C handler does, injected: the flag goes up during step 3's report.
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let opts = RunOptions {
        checkpoint_dir: Some(dir.path().to_path_buf()),
        checkpoint_every: 0,
        stop: Some(stop.clone()),
        ..RunOptions::default()
    };
    let mut b = Trainer::new(cfg, &set).unwrap();
    let first = run(&mut b, &set, None, &opts, |r| {
        if r.step == 3 {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(first.interrupted);
    assert_eq!(
        first.step, 4,
        "the step running when the flag rose is finished"
    );
    let sidecar = dir.path().join("last.json");
    let mut c = Trainer::resume(&sidecar, &set).unwrap();
    assert_eq!(c.step_index(), 4);
    stop.store(false, Ordering::SeqCst);
    let second = run(&mut c, &set, None, &opts, |_| {}).unwrap();
    assert!(!second.interrupted);
    assert_eq!(c.losses(), a.losses());
    assert_eq!(weights(&c), weights(&a));
}
