//! Driving a [`Trainer`] to the end of its run: periodic checkpoints, validation on held-out training
//! identities with model selection and early stopping, and per-step reports for a progress bar.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Tensor;

use crate::data::LabelledSet;

use super::checkpoint::{load_checkpoint, BestValidation};
use super::evaluate::verify;
use super::trainer::Trainer;
use super::TrainError;

/// How to drive a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Where checkpoints go (`last.*` every `checkpoint_every` steps and at the end, `best.*` on each
    /// validation improvement); `None` writes nothing.
    pub checkpoint_dir: Option<PathBuf>,
    /// Steps between `last` checkpoints (0: only at the end).
    pub checkpoint_every: usize,
    /// Steps between validations (0: only at the end); ignored without a validation set.
    pub eval_every: usize,
    /// Stop after this many validations without improvement (0: never stop early).
    pub patience: usize,
    /// Take at most this many steps in this call (the run can be resumed later); `None`: to the end.
    pub max_steps_this_call: Option<usize>,
    /// Checked after every step: once set (by a Ctrl-C handler, say), the current step is finished,
    /// a `last` checkpoint is written (with a checkpoint directory) and the call returns with
    /// [`RunSummary::interrupted`] set; the run can be resumed from that checkpoint.
    pub stop: Option<Arc<AtomicBool>>,
}

/// What one step did, for progress reporting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// Steps taken after this one.
    pub step: usize,
    /// Steps in the whole run.
    pub total: usize,
    /// This step's loss.
    pub loss: f32,
    /// This step's learning rate.
    pub lr: f64,
    /// Training images per second over this call so far (validation time excluded).
    pub images_per_second: f64,
    /// Validation EER measured after this step, if any.
    pub validation_eer: Option<f64>,
}

/// The outcome of [`run`].
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Steps taken in this call.
    pub steps_run: usize,
    /// Steps taken in the whole run.
    pub step: usize,
    /// Losses of this call's steps.
    pub losses: Vec<f32>,
    /// Best validation result; its weights are the trainer's at return.
    pub best: Option<BestValidation>,
    /// Whether patience ran out before the last step.
    pub stopped_early: bool,
    /// Whether [`RunOptions::stop`] ended the call before the run's end (a `last` checkpoint of
    /// the step reached was written when there is a checkpoint directory).
    pub interrupted: bool,
    /// Training images per second over this call (validation excluded).
    pub images_per_second: f64,
    /// Wall time of this call in seconds.
    pub seconds: f64,
}

/// Runs `trainer` on `train` until its last step (or `opts.max_steps_this_call`, or early stopping).
///
/// With a `validation` set (identities disjoint from `train`'s and from the test identities), the
/// validation EER over all its pairs is measured every `eval_every` steps and at the end; when the run
/// finishes (last step or early stop) the weights of the best one are restored (ties keep the earlier;
/// from memory, or from `best.*` when the best came before a resume; without a checkpoint directory a
/// best from before a resume cannot be restored and the final weights stay). A non-finite loss stops
/// the run with [`TrainError::NonFiniteLoss`] naming the last checkpoint written.
pub fn run(
    trainer: &mut Trainer,
    train: &LabelledSet,
    validation: Option<&LabelledSet>,
    opts: &RunOptions,
    mut on_step: impl FnMut(&StepReport),
) -> Result<RunSummary, TrainError> {
    let start = Instant::now();
    let total = trainer.config().steps;
    let per_step = trainer.config().images_per_step();
    let end = match opts.max_steps_this_call {
        Some(n) => (trainer.step_index() + n).min(total),
        None => total,
    };
    let mut best_weights: Option<HashMap<String, Tensor>> = None;
    let mut train_seconds = 0.0f64;
    let mut losses = Vec::new();
    let mut stopped_early = false;
    let mut interrupted = false;
    let stop_requested = || opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
    while trainer.step_index() < end {
        let lr = trainer.current_lr();
        let t0 = Instant::now();
        let loss = trainer.step(train)?;
        train_seconds += t0.elapsed().as_secs_f64();
        losses.push(loss);
        let step = trainer.step_index();
        let validation_eer = match validation {
            Some(val)
                if step == total
                    || (opts.eval_every > 0 && step.is_multiple_of(opts.eval_every)) =>
            {
                Some(
                    verify(trainer.model(), val, &[], trainer.device())?
                        .eer
                        .rate,
                )
            }
            _ => None,
        };
        if let Some(eer) = validation_eer {
            if trainer.record_validation(eer) {
                best_weights = Some(trainer.weights()?);
                if let Some(dir) = &opts.checkpoint_dir {
                    trainer.save(dir, "best")?;
                }
            }
        }
        stopped_early =
            opts.patience > 0 && trainer.evals_since_best() >= opts.patience && step < total;
        interrupted = !stopped_early && step < end && stop_requested();
        if let Some(dir) = &opts.checkpoint_dir {
            let periodic = opts.checkpoint_every > 0 && step.is_multiple_of(opts.checkpoint_every);
            if periodic || step == end || stopped_early || interrupted {
                trainer.save(dir, "last")?;
            }
        }
        on_step(&StepReport {
            step,
            total,
            loss,
            lr,
            images_per_second: (losses.len() * per_step) as f64 / train_seconds.max(1e-9),
            validation_eer,
        });
        if stopped_early || interrupted {
            break;
        }
    }
    let finished = stopped_early || trainer.step_index() == total;
    if let (true, Some(best)) = (finished, trainer.best()) {
        if best.step != trainer.step_index() {
            match (&best_weights, &opts.checkpoint_dir) {
                (Some(w), _) => trainer.set_weights(w)?,
                (None, Some(dir)) => {
                    let loaded = load_checkpoint(&dir.join("best.json"), trainer.device())?;
                    trainer.set_weights(&loaded.weights)?;
                }
                (None, None) => {}
            }
        }
    }
    Ok(RunSummary {
        steps_run: losses.len(),
        step: trainer.step_index(),
        images_per_second: (losses.len() * per_step) as f64 / train_seconds.max(1e-9),
        losses,
        best: trainer.best(),
        stopped_early,
        interrupted,
        seconds: start.elapsed().as_secs_f64(),
    })
}
