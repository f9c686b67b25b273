//! The training pipeline: a [`Recipe`] in, a finished run folder out (checkpoints `last.*` and
//! `best.*`, the selected weights `model.safetensors`, the log `log.jsonl` and the manifest with
//! the results, `summary.json`).
//!
//! Two phases, so that a front end can report between them: [`TrainJob::prepare`] loads the data,
//! builds the split and the trainer (fresh, or resumed from `OUT/last.json` with its own
//! configuration); [`TrainJob::run`] trains to the end (or until the stop flag is raised), then
//! judges the selected weights on the test identities and writes `summary.json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::checkpoint::{read_sidecar, BestValidation};
use super::recipe::{Recipe, RecipeError};
use super::{
    run as run_training, split_validation, verify_pairs, RunOptions, StepReport, TrainError,
    TrainLog, Trainer, LOG_FILE,
};
use crate::data::LabelledSet;
use crate::eval::{EvalError, VerificationReport};
use crate::protocol::{
    DataKind, DataSource, RunManifest, SplitError, Splits, MANIFEST_FILE, OPERATING_FARS,
    WEIGHTS_FILE,
};

/// Why a training run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainRunError {
    /// The recipe names no run folder.
    #[error("the recipe names no run folder (`out`, --out DIR)")]
    NoOut,
    /// The recipe file is unusable.
    #[error("{path}: {source}")]
    Recipe {
        /// The file.
        path: PathBuf,
        /// Why.
        source: RecipeError,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Resuming from the run's last checkpoint failed.
    #[error("resuming from {path}: {source}")]
    Resume {
        /// The checkpoint sidecar.
        path: PathBuf,
        /// Why.
        source: TrainError,
    },
    /// The split could not be built.
    #[error(transparent)]
    Split(Box<SplitError>),
    /// Training failed.
    #[error("training: {0}")]
    Train(#[from] TrainError),
    /// The test metrics could not be computed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The weights could not be written.
    #[error("writing {path}: {source}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// candle's error.
        source: candle_core::Error,
    },
    /// The run ended interrupted where no stop was expected ([`train_recipe`] passes no stop
    /// flag); its `last` checkpoint is written.
    #[error("the run stopped at step {step} of {steps}")]
    Interrupted {
        /// Steps taken.
        step: usize,
        /// Steps of the whole run.
        steps: usize,
    },
    /// The summary could not be serialized.
    #[error("writing the summary: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<SplitError> for TrainRunError {
    fn from(e: SplitError) -> Self {
        Self::Split(Box::new(e))
    }
}

/// What `summary.json` holds: the run's manifest, then its results.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Data, split, network and training configuration (what `eval`, `quantize` and `export`
    /// read back).
    #[serde(flatten)]
    pub manifest: RunManifest,
    /// Whether patience stopped the run early.
    pub stopped_early: bool,
    /// Best validation result; the evaluated weights are its weights.
    pub best_validation: Option<BestValidation>,
    /// Mean loss of the last 50 steps.
    pub final_loss: f32,
    /// Training images per second in this invocation (validation excluded).
    pub images_per_second: f64,
    /// Wall time of this invocation in seconds.
    pub seconds: f64,
    /// Metrics on the held-out identities, TAR at [`OPERATING_FARS`].
    pub test: VerificationReport,
}

/// How a call of [`TrainJob::run`] ended.
#[derive(Debug)]
pub enum TrainOutcome {
    /// The run finished: `summary.json` and `model.safetensors` are written.
    Finished(Box<TrainSummary>),
    /// The stop flag was raised: a `last` checkpoint of `step` of `steps` is written; the run
    /// continues with the same recipe and `resume`.
    Interrupted {
        /// Steps taken.
        step: usize,
        /// Steps of the whole run.
        steps: usize,
    },
}

/// A run ready to train: data loaded, split built, trainer made or resumed.
pub struct TrainJob {
    recipe: Recipe,
    out: PathBuf,
    source: DataSource,
    splits: Splits,
    train: LabelledSet,
    validation: Option<LabelledSet>,
    val_people: usize,
    trainer: Trainer,
    started: Instant,
}

impl TrainJob {
    /// Loads the data of `recipe` and builds its trainer; with `resume`, continues the run in its
    /// `out` folder from `out/last.json` with that checkpoint's own configuration (the data
    /// choices of the recipe must match the first call's).
    pub fn prepare(recipe: &Recipe, resume: bool) -> Result<Self, TrainRunError> {
        let started = Instant::now();
        let out = recipe.out.clone().ok_or(TrainRunError::NoOut)?;
        let source = recipe.data_source();
        let sidecar = out.join("last.json");
        let resume_err = |source| TrainRunError::Resume {
            path: sidecar.clone(),
            source,
        };
        let cfg = if resume {
            read_sidecar(&sidecar).map_err(resume_err)?.config
        } else {
            recipe.train_config()
        };
        let splits = source.load(cfg.model.encoder.height, cfg.model.encoder.width)?;
        let val_people = recipe.val_people();
        let (train, validation) = split_validation(&splits.train, val_people)?;
        let trainer = if resume {
            Trainer::resume(&sidecar, &train).map_err(resume_err)?
        } else {
            Trainer::new(cfg, &train)?
        };
        std::fs::create_dir_all(&out).map_err(|source| TrainRunError::Io {
            path: out.clone(),
            source,
        })?;
        Ok(Self {
            recipe: recipe.clone(),
            out,
            source,
            splits,
            train,
            validation,
            val_people,
            trainer,
            started,
        })
    }

    /// The split the run trains and is judged on.
    pub fn splits(&self) -> &Splits {
        &self.splits
    }

    /// Training images (validation identities excluded).
    pub fn train_set(&self) -> &LabelledSet {
        &self.train
    }

    /// Validation identities' images, if the run keeps some.
    pub fn validation_set(&self) -> Option<&LabelledSet> {
        self.validation.as_ref()
    }

    /// The trainer (its configuration, the step it is at).
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// The run folder.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Trains to the end, calling `on_step` after every step; `stop`, once raised, ends the run
    /// at the end of the step with a checkpoint ([`TrainOutcome::Interrupted`]). Every
    /// `log-every` steps (and every validation and the last step) go to `OUT/log.jsonl`.
    pub fn run(
        mut self,
        stop: Option<Arc<AtomicBool>>,
        mut on_step: impl FnMut(&StepReport),
    ) -> Result<TrainOutcome, TrainRunError> {
        let cfg = self.trainer.config().clone();
        let mut log = TrainLog::open(
            &self.out.join(LOG_FILE),
            self.trainer.step_index(),
            self.recipe.log_every.unwrap_or(10),
        )?;
        let mut log_error: Option<TrainError> = None;
        let stopping = stop.clone();
        let opts = RunOptions {
            stop,
            ..self.recipe.run_options(&self.out)
        };
        let summary = run_training(
            &mut self.trainer,
            &self.train,
            self.validation.as_ref(),
            &opts,
            |r: &StepReport| {
                let last = stopping.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
                if let Err(e) = log.record(r, last) {
                    log_error.get_or_insert(e);
                }
                on_step(r);
            },
        )?;
        if let Some(e) = log_error {
            return Err(e.into());
        }
        if summary.interrupted {
            return Ok(TrainOutcome::Interrupted {
                step: self.trainer.step_index(),
                steps: cfg.steps,
            });
        }
        let wpath = self.out.join(WEIGHTS_FILE);
        self.trainer
            .varmap()
            .save(&wpath)
            .map_err(|source| TrainRunError::Weights {
                path: wpath.clone(),
                source,
            })?;
        let test = verify_pairs(
            self.trainer.model(),
            &self.splits.test,
            &self.splits.test_pairs,
            &OPERATING_FARS,
            self.trainer.device(),
        )?;
        let losses = self.trainer.losses();
        let tail = &losses[losses.len().saturating_sub(50)..];
        let data = self.source.data;
        let result = TrainSummary {
            manifest: RunManifest {
                data,
                fold: (data != DataKind::Mnist).then_some(self.source.fold),
                source: Some(self.source.clone()),
                val_people: self.val_people,
                protocol: self.splits.protocol.clone(),
                config: cfg,
                train_identities: self.train.classes().len(),
                train_images: self.train.len(),
                validation_identities: self.validation.as_ref().map_or(0, |v| v.classes().len()),
                steps: self.trainer.step_index(),
            },
            stopped_early: summary.stopped_early,
            best_validation: summary.best,
            final_loss: tail.iter().sum::<f32>() / tail.len().max(1) as f32,
            images_per_second: summary.images_per_second,
            seconds: self.started.elapsed().as_secs_f64(),
            test,
        };
        let json = serde_json::to_string_pretty(&result)?;
        let path = self.out.join(MANIFEST_FILE);
        std::fs::write(&path, &json).map_err(|source| TrainRunError::Io { path, source })?;
        Ok(TrainOutcome::Finished(Box::new(result)))
    }
}

/// Trains `recipe` to the end without a stop flag or progress: [`TrainJob::prepare`] then
/// [`TrainJob::run`]. `summary.json` is in `recipe.out`.
pub fn train_recipe(recipe: &Recipe, resume: bool) -> Result<TrainSummary, TrainRunError> {
    match TrainJob::prepare(recipe, resume)?.run(None, |_| {})? {
        TrainOutcome::Finished(s) => Ok(*s),
        TrainOutcome::Interrupted { step, steps } => {
            Err(TrainRunError::Interrupted { step, steps })
        }
    }
}
