//! A Siamese CNN trained for a few seconds on ORL fold 0's training people beats chance on the held-out
//! people (all 4,950 pairs). Without the cached data the test prints a message and passes, unless
//! `SIAMEDGE_REQUIRE_DATA=1` (CI, after `siamedge-train data fetch`), when it fails.

mod common;

use siamedge_trainer::model::EncoderConfig;
use siamedge_trainer::train::{
    orl_set, run, split_validation, verify, RunOptions, TrainConfig, Trainer,
};

#[test]
fn a_short_run_beats_chance_on_held_out_people() {
    let Some(faces) = common::orl() else { return };
    let fold = faces.fold(0).unwrap();
    // 28x23: a quarter of the reference input, to keep the test to seconds.
    let (h, w) = (28, 23);
    let train = orl_set(&faces, &fold.train, h, w).unwrap();
    let test = orl_set(&faces, &fold.test, h, w).unwrap();
    assert_eq!((train.len(), test.len()), (300, 100));
    assert!(test.classes().iter().all(|c| (0..10).contains(c)));
    let (train, val) = split_validation(&train, 4).unwrap();
    let val = val.unwrap();
    assert!(val.classes().iter().all(|c| (36..40).contains(c)));

    let mut cfg = TrainConfig::reference(h, w, 32);
    cfg.model.encoder = EncoderConfig {
        widths: vec![8, 16, 32],
        ..EncoderConfig::reference(h, w, 32)
    };
    cfg.steps = 60;
    cfg.batch = 32;
    cfg.optimizer.warmup_steps = 10;
    let mut trainer = Trainer::new(cfg, &train).unwrap();
    let opts = RunOptions {
        eval_every: 20,
        ..RunOptions::default()
    };
    let summary = run(&mut trainer, &train, Some(&val), &opts, |_| {}).unwrap();
    assert!(summary.best.is_some());
    let report = verify(trainer.model(), &test, &[1e-3], trainer.device()).unwrap();
    assert_eq!((report.genuine_trials, report.impostor_trials), (450, 4500));
    eprintln!(
        "ORL fold 0, 28x23, 60 steps: held-out EER {:.3}, {:.0} images/s",
        report.eer.rate, summary.images_per_second
    );
    assert!(
        report.eer.rate < 0.3,
        "EER {} after {:?}",
        report.eer.rate,
        summary
    );
}
