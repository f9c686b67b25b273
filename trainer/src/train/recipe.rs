//! The training recipe: the choices of a run as the TOML recipe files (`models/*/train.toml`) and
//! the command line give them, each optional, resolved into a [`TrainConfig`] (the network, loss,
//! optimiser, augmentation and seed), a [`DataSource`] and the [`RunOptions`] of the loop.
//!
//! A value set in the recipe wins over the file merged under it ([`Recipe::merged_with_toml`]),
//! the file over the default; an unknown key in the file is an error that names it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::loss::LossKind;
use crate::model::pair_config::MergeOp;
use crate::model::{Arch, EncoderConfig};
use crate::protocol::{DataKind, DataSource, DEFAULT_FOLDS, MNIST_DEFAULT_LIMIT};
use crate::sampler::Augment;
use crate::train::{OptimizerKind, RunOptions, Schedule, TrainConfig};

/// Why a recipe file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecipeError {
    /// The TOML is malformed, a value has the wrong type, or a key is unknown (named).
    #[error("bad training config: {0}")]
    Toml(#[from] toml::de::Error),
}

macro_rules! merge_fields {
    ($cli:ident, $file:ident, $($f:ident),*) => {
        $( if $cli.$f.is_none() { $cli.$f = $file.$f.take(); } )*
    };
}

/// A training recipe: every choice of a run, each optional (`None`: the default, which may depend
/// on the data set and network). The TOML recipe files (`models/*/train.toml`) use these names in
/// kebab-case (`steps = 1500`, `per-identity = 4`); an unknown key is an error naming it.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Recipe {
    /// Run folder: checkpoints, selected weights, summary.json.
    pub out: Option<PathBuf>,
    /// Data cache folder [default: $SIAMEDGE_DATA, else ~/.cache/siamedge].
    pub cache: Option<PathBuf>,
    /// Data set [default: orl].
    pub data: Option<DataKind>,
    /// Root folder of a `folder` or `signature` data set.
    pub data_dir: Option<PathBuf>,
    /// Test fold: ORL 0..3, or 0..folds-1 for a folder or signature set [default: 0].
    pub fold: Option<usize>,
    /// Identity-disjoint folds of a folder or signature set [default: 4].
    pub folds: Option<usize>,
    /// Input height in pixels [default: 56 for ORL, 28 for MNIST].
    pub height: Option<usize>,
    /// Input width in pixels [default: 46 for ORL, 28 for MNIST].
    pub width: Option<usize>,
    /// Network [default: cnn].
    pub arch: Option<Arch>,
    /// Use the compact depthwise-separable encoder family (widths 8,16,32,32) instead of the
    /// reference CNN (16,32,64).
    pub compact: Option<bool>,
    /// Channel widths of the conv blocks, comma-separated (overrides --compact's).
    pub widths: Option<Vec<usize>>,
    /// Depthwise-separable blocks after the first.
    pub separable: Option<bool>,
    /// Embedding dimension (hidden width of the 2-channel head) [default: 64].
    pub dim: Option<usize>,
    /// Hidden units of the pair networks' classifier [default: 64].
    pub hidden: Option<usize>,
    /// merge, cross-input, norm-corr: encoder blocks before the comparison [default: 2].
    pub merge_after: Option<usize>,
    /// merge: the two towers share weights [default: true].
    pub tied: Option<bool>,
    /// merge: how the towers' maps are joined [default: concat].
    pub merge: Option<MergeOp>,
    /// cross-input: neighbourhood side; norm-corr: search window side (odd) [default: 5].
    pub window: Option<usize>,
    /// norm-corr: patch side (odd) [default: 3].
    pub patch: Option<usize>,
    /// cross-input, norm-corr: channels of the 1x1 patch summary [default: 32].
    pub summary: Option<usize>,
    /// Loss [default: batch-hard for cnn, binary for the pair networks].
    pub loss: Option<LossKind>,
    /// Margin of the contrastive, triplet and logistic losses [default: per loss].
    pub margin: Option<f64>,
    /// CosFace scale [default: 16].
    pub cosface_scale: Option<f64>,
    /// CosFace cosine margin [default: 0.25].
    pub cosface_margin: Option<f64>,
    /// Optimisation steps [default: 1500].
    pub steps: Option<usize>,
    /// Images per step [default: 64].
    pub batch: Option<usize>,
    /// Images per identity K in P x K batches [default: 4; 12 for MNIST's 5 classes].
    pub per_identity: Option<usize>,
    /// Optimiser [default: adamw].
    pub optimizer: Option<OptimizerKind>,
    /// Peak learning rate [default: 1e-3].
    pub lr: Option<f64>,
    /// Weight decay [default: 1e-4].
    pub weight_decay: Option<f64>,
    /// SGD momentum [default: 0.9].
    pub momentum: Option<f64>,
    /// Learning-rate schedule after warm-up [default: cosine].
    pub schedule: Option<Schedule>,
    /// Warm-up steps [default: 50].
    pub warmup: Option<usize>,
    /// Final learning rate of the cosine schedule as a fraction of --lr [default: 0.01].
    pub min_lr_ratio: Option<f64>,
    /// Maximal random shift in pixels [default: 4 for ORL, 2 for MNIST].
    pub crop_pad: Option<usize>,
    /// Random horizontal flips [default: true for ORL, false for MNIST].
    pub flip: Option<bool>,
    /// Brightness and contrast jitter, +- this fraction [default: 0.1 for ORL, 0 for MNIST].
    pub jitter: Option<f32>,
    /// Rotation jitter, +- this many degrees about the image centre [default: 0].
    pub rotate: Option<f32>,
    /// Scale jitter: zoom by a factor in 1 +- this [default: 0].
    pub scale: Option<f32>,
    /// Seed of initialisation, batches and augmentation [default: 0].
    pub seed: Option<u64>,
    /// Training identities held out for validation (model selection, early stopping); 0 for none
    /// [default: 5 for ORL, 0 for MNIST].
    pub val_people: Option<usize>,
    /// Steps between validations [default: 100].
    pub eval_every: Option<usize>,
    /// Stop after this many validations without improvement; 0 never stops early [default: 0].
    pub patience: Option<usize>,
    /// Steps between checkpoints [default: 250].
    pub checkpoint_every: Option<usize>,
    /// Steps between lines of OUT/log.jsonl (validations and the last step are always logged)
    /// [default: 10].
    pub log_every: Option<usize>,
    /// MNIST: training images of digits 0-4 to use, in file order [default: 10000].
    pub limit: Option<usize>,
}

impl Recipe {
    /// This recipe over the keys of the TOML text `text`: a value set here wins over the file's.
    /// An unknown key is an error naming it.
    pub fn merged_with_toml(mut self, text: &str) -> Result<Self, RecipeError> {
        let mut file: Recipe = toml::from_str(text)?;
        merge_fields!(
            self,
            file,
            out,
            cache,
            data,
            data_dir,
            fold,
            folds,
            height,
            width,
            arch,
            compact,
            widths,
            separable,
            dim,
            hidden,
            merge_after,
            tied,
            merge,
            window,
            patch,
            summary,
            loss,
            margin,
            cosface_scale,
            cosface_margin,
            steps,
            batch,
            per_identity,
            optimizer,
            lr,
            weight_decay,
            momentum,
            schedule,
            warmup,
            min_lr_ratio,
            crop_pad,
            flip,
            jitter,
            rotate,
            scale,
            seed,
            val_people,
            eval_every,
            patience,
            checkpoint_every,
            log_every,
            limit
        );
        Ok(self)
    }

    /// The run's configuration: flags, then defaults (which depend on the data set and network).
    pub fn train_config(&self) -> TrainConfig {
        let data = self.data.unwrap_or(DataKind::Orl);
        let (dh, dw) = data.default_size();
        let (h, w) = (self.height.unwrap_or(dh), self.width.unwrap_or(dw));
        let dim = self.dim.unwrap_or(64);
        let mut cfg = TrainConfig::reference(h, w, dim);
        let mut enc = if self.compact.unwrap_or(false) {
            EncoderConfig::compact(h, w, dim)
        } else {
            EncoderConfig::reference(h, w, dim)
        };
        if let Some(widths) = &self.widths {
            enc.widths = widths.clone();
        }
        if let Some(s) = self.separable {
            enc.separable = s;
        }
        cfg.model.encoder = enc;
        cfg.model.arch = self.arch.unwrap_or(Arch::Cnn);
        cfg.model.hidden = self.hidden.unwrap_or(64);
        let p = &mut cfg.model.pair;
        p.merge_after = self.merge_after.unwrap_or(p.merge_after);
        p.tied = self.tied.unwrap_or(p.tied);
        p.merge = self.merge.unwrap_or(p.merge);
        p.window = self.window.unwrap_or(p.window);
        p.patch = self.patch.unwrap_or(p.patch);
        p.summary = self.summary.unwrap_or(p.summary);
        cfg.loss = self.loss.unwrap_or(if cfg.model.arch.embeds() {
            LossKind::BatchHard
        } else {
            LossKind::Binary
        });
        cfg.margin = self.margin;
        cfg.cosface_scale = self.cosface_scale.unwrap_or(cfg.cosface_scale);
        cfg.cosface_margin = self.cosface_margin.unwrap_or(cfg.cosface_margin);
        cfg.steps = self.steps.unwrap_or(cfg.steps);
        cfg.batch = self.batch.unwrap_or(cfg.batch);
        // MNIST has 5 training classes: 5 x 12 images instead of 16 x 4.
        cfg.per_identity = self
            .per_identity
            .unwrap_or(data.default_per_identity(cfg.per_identity));
        let o = &mut cfg.optimizer;
        o.kind = self.optimizer.unwrap_or(o.kind);
        o.lr = self.lr.unwrap_or(o.lr);
        o.weight_decay = self.weight_decay.unwrap_or(o.weight_decay);
        o.momentum = self.momentum.unwrap_or(o.momentum);
        o.schedule = self.schedule.unwrap_or(o.schedule);
        o.warmup_steps = self.warmup.unwrap_or(o.warmup_steps);
        o.min_lr_ratio = self.min_lr_ratio.unwrap_or(o.min_lr_ratio);
        let base = data.default_augment();
        let jitter = self.jitter.unwrap_or(base.brightness);
        cfg.augment = Augment {
            crop_pad: self.crop_pad.unwrap_or(base.crop_pad),
            hflip: self.flip.unwrap_or(base.hflip),
            brightness: jitter,
            contrast: jitter,
            rotate: self.rotate.unwrap_or(base.rotate),
            scale: self.scale.unwrap_or(base.scale),
        };
        cfg.seed = self.seed.unwrap_or(0);
        cfg
    }

    /// Checkpoints into `out` every `checkpoint-every` steps, validation every `eval-every`,
    /// early stopping after `patience` validations without improvement (0: never).
    pub fn run_options(&self, out: &Path) -> RunOptions {
        RunOptions {
            checkpoint_dir: Some(out.to_path_buf()),
            checkpoint_every: self.checkpoint_every.unwrap_or(250),
            eval_every: self.eval_every.unwrap_or(100),
            patience: self.patience.unwrap_or(0),
            max_steps_this_call: None,
            stop: None,
        }
    }

    /// Where the data comes from, with the defaults filled in.
    pub fn data_source(&self) -> DataSource {
        DataSource {
            data: self.data.unwrap_or(DataKind::Orl),
            cache: self.cache.clone(),
            data_dir: self.data_dir.clone(),
            fold: self.fold.unwrap_or(0),
            folds: self.folds.unwrap_or(DEFAULT_FOLDS),
            limit: self.limit.unwrap_or(MNIST_DEFAULT_LIMIT),
        }
    }

    /// Training identities held out for validation: `val-people`, else the data set's default.
    pub fn val_people(&self) -> usize {
        self.val_people
            .unwrap_or(self.data.unwrap_or(DataKind::Orl).default_val_people())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_keys_are_the_flag_names_and_flags_win() {
        let cli = Recipe {
            steps: Some(10),
            ..Recipe::default()
        };
        let merged = cli
            .merged_with_toml(
                "steps = 99\nper-identity = 8\nloss = \"contrastive\"\nwidths = [4, 8]\n",
            )
            .unwrap();
        assert_eq!(merged.steps, Some(10));
        assert_eq!(merged.per_identity, Some(8));
        let cfg = merged.train_config();
        assert_eq!(cfg.loss, LossKind::Contrastive);
        assert_eq!(cfg.model.encoder.widths, [4, 8]);
        assert_eq!(cfg.steps, 10);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = Recipe::default()
            .merged_with_toml("stepz = 3\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("stepz"), "{msg}");
    }

    #[test]
    fn defaults_are_the_reference_run() {
        let cfg = Recipe::default().train_config();
        assert_eq!(cfg, TrainConfig::reference(56, 46, 64));
        let mnist = Recipe {
            data: Some(DataKind::Mnist),
            ..Recipe::default()
        }
        .train_config();
        assert_eq!(
            (mnist.model.encoder.height, mnist.augment.hflip),
            (28, false)
        );
    }
}
