//! Every architecture and loss learns: a tiny network's loss falls over a few dozen steps on a
//! synthetic labelled set (class prototypes plus noise).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use siamedge_trainer::data::{ImageShape, LabelledSet};
use siamedge_trainer::loss::LossKind;
use siamedge_trainer::model::{Arch, EncoderConfig};
use siamedge_trainer::sampler::Augment;
use siamedge_trainer::train::{run, RunOptions, TrainConfig, Trainer};

/// `classes` prototypes of 16x16 blobs, `per_class` noisy copies of each.
fn synthetic(classes: u32, per_class: usize, seed: u64) -> LabelledSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (h, w) = (16usize, 16usize);
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for c in 0..classes {
        let proto: Vec<f32> = (0..h * w).map(|_| rng.random::<f32>()).collect();
        for _ in 0..per_class {
            pixels.extend(
                proto
                    .iter()
                    .map(|p| (p + 0.3 * (rng.random::<f32>() - 0.5)).clamp(0.0, 1.0)),
            );
            labels.push(c);
        }
    }
    LabelledSet::new(pixels, labels, ImageShape::grey(h, w)).unwrap()
}

fn tiny(arch: Arch, loss: LossKind) -> TrainConfig {
    let mut cfg = TrainConfig::reference(16, 16, 8);
    cfg.model.arch = arch;
    cfg.model.encoder = EncoderConfig {
        widths: vec![4, 8],
        ..EncoderConfig::reference(16, 16, 8)
    };
    cfg.model.hidden = 8;
    // The map-comparing networks: one block each side of the comparison, a 3x3 window.
    cfg.model.pair.merge_after = 1;
    cfg.model.pair.window = 3;
    cfg.model.pair.summary = 8;
    cfg.loss = loss;
    cfg.steps = 40;
    cfg.batch = 16;
    cfg.per_identity = 4;
    cfg.optimizer.lr = 3e-3;
    cfg.optimizer.warmup_steps = 5;
    cfg.augment = Augment::default();
    cfg
}

fn mean(x: &[f32]) -> f32 {
    x.iter().sum::<f32>() / x.len() as f32
}

fn assert_learns(arch: Arch, loss: LossKind) {
    let set = synthetic(6, 8, 1);
    let mut t = Trainer::new(tiny(arch, loss), &set).unwrap();
    let s = run(&mut t, &set, None, &RunOptions::default(), |_| {}).unwrap();
    assert_eq!(s.steps_run, 40);
    let (first, last) = (mean(&s.losses[..8]), mean(&s.losses[32..]));
    assert!(
        last < 0.8 * first,
        "{arch:?}/{loss:?}: loss {first} -> {last} ({:?})",
        s.losses
    );
    assert!(s.images_per_second > 0.0);
}

#[test]
fn batch_hard_learns() {
    assert_learns(Arch::Cnn, LossKind::BatchHard);
}

#[test]
fn batch_semi_hard_learns() {
    assert_learns(Arch::Cnn, LossKind::BatchSemiHard);
}

#[test]
fn contrastive_learns() {
    assert_learns(Arch::Cnn, LossKind::Contrastive);
}

#[test]
fn triplet_learns() {
    assert_learns(Arch::Cnn, LossKind::Triplet);
}

#[test]
fn logistic_learns() {
    assert_learns(Arch::Cnn, LossKind::Logistic);
}

#[test]
fn cosface_learns() {
    assert_learns(Arch::Cnn, LossKind::Cosface);
}

#[test]
fn two_channel_learns() {
    assert_learns(Arch::TwoChannel, LossKind::Binary);
}

#[test]
fn hybrid_learns() {
    assert_learns(Arch::Hybrid, LossKind::Binary);
}

#[test]
fn intermediate_merging_learns() {
    assert_learns(Arch::Merge, LossKind::Binary);
}

#[test]
fn cross_input_neighborhood_differences_learn() {
    assert_learns(Arch::CrossInput, LossKind::Binary);
}

#[test]
fn normalized_correlation_learns() {
    assert_learns(Arch::NormCorr, LossKind::Binary);
}

#[test]
fn compact_separable_encoder_learns() {
    let set = synthetic(6, 8, 2);
    let mut cfg = tiny(Arch::Cnn, LossKind::BatchHard);
    cfg.model.encoder = EncoderConfig {
        widths: vec![4, 8, 8],
        separable: true,
        ..EncoderConfig::compact(16, 16, 8)
    };
    let mut t = Trainer::new(cfg, &set).unwrap();
    let s = run(&mut t, &set, None, &RunOptions::default(), |_| {}).unwrap();
    assert!(
        mean(&s.losses[32..]) < 0.8 * mean(&s.losses[..8]),
        "{:?}",
        s.losses
    );
}

#[test]
fn mismatched_loss_and_architecture_is_a_config_error() {
    let set = synthetic(3, 4, 0);
    let err = Trainer::new(tiny(Arch::Cnn, LossKind::Binary), &set)
        .err()
        .unwrap();
    assert!(err.to_string().contains("`loss`"), "{err}");
    let err = Trainer::new(tiny(Arch::Hybrid, LossKind::BatchHard), &set)
        .err()
        .unwrap();
    assert!(err.to_string().contains("binary"), "{err}");
}
