//! Checkpoints: weights in safetensors, optimiser moments in a second safetensors file, and a JSON
//! sidecar that ties them together.
//!
//! A checkpoint named `NAME` in a directory is three files: `NAME.safetensors` (every variable of the
//! network, BatchNorm running statistics and any loss head included, under their `VarBuilder` paths),
//! `NAME.optim.safetensors` (see [`super::optim`]) and `NAME.json`, the sidecar:
//! ```text
//! { "format": "siamedge-train-checkpoint", "version": 1,
//!   "step": 750,                         // steps taken; the next step to run is this one (0-based)
//!   "optimizer_steps": 750,              // updates the optimiser has taken (AdamW's bias correction)
//!   "rng_seed": 0, "rng_stream": 1,      // batch generator: ChaCha8Rng::seed_from_u64(seed), stream
//!   "rng_word_pos": "123456",            // its position in 32-bit words, a decimal u128
//!   "weights_sha256": "…", "optimizer_sha256": "…",
//!   "config": { TrainConfig },           // the whole run's configuration
//!   "losses": [f32, …],                  // the loss of every step taken
//!   "best": { "step": 500, "validation_eer": 0.04 } | null,
//!   "evals_since_best": 2 }             // early stopping's patience counter
//! ```
//! Files are written to a temporary name and renamed, the sidecar last, so a crash leaves the previous
//! checkpoint whole. Loading checks the format, the version and both hashes. Compatibility rule: a
//! reader accepts only its own `version`; any change to the sidecar or to the tensor names bumps it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::TrainConfig;
use super::TrainError;

/// The sidecar's `format` value.
pub const CHECKPOINT_FORMAT: &str = "siamedge-train-checkpoint";
/// The sidecar's `version` value this build reads and writes.
pub const CHECKPOINT_VERSION: u32 = 1;

/// The best validation result so far.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BestValidation {
    /// Steps taken when it was measured.
    pub step: usize,
    /// Validation EER, a fraction in `[0, 1]`.
    pub validation_eer: f64,
}

/// The JSON sidecar of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Always [`CHECKPOINT_VERSION`] for files this build writes.
    pub version: u32,
    /// Steps taken.
    pub step: usize,
    /// Updates the optimiser has taken.
    pub optimizer_steps: u64,
    /// Seed of the batch generator.
    pub rng_seed: u64,
    /// Stream of the batch generator.
    pub rng_stream: u64,
    /// Word position of the batch generator, decimal.
    pub rng_word_pos: String,
    /// sha256 of `NAME.safetensors`, lowercase hex.
    pub weights_sha256: String,
    /// sha256 of `NAME.optim.safetensors`, lowercase hex.
    pub optimizer_sha256: String,
    /// The run's configuration.
    pub config: TrainConfig,
    /// Loss of every step taken.
    pub losses: Vec<f32>,
    /// Best validation result so far, if validation is on.
    pub best: Option<BestValidation>,
    /// Validations since the best one (early stopping's patience counter).
    pub evals_since_best: usize,
}

/// The three paths of checkpoint `name` in `dir`: weights, optimiser state, sidecar.
pub fn checkpoint_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.safetensors")),
        dir.join(format!("{name}.optim.safetensors")),
        dir.join(format!("{name}.json")),
    )
}

/// The sidecar path a weights or sidecar path belongs to (`x.safetensors` -> `x.json`), or the path
/// itself when it already is one.
pub fn sidecar_of(path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    match s.strip_suffix(".safetensors") {
        Some(stem) => PathBuf::from(format!("{stem}.json")),
        None => path.to_path_buf(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sha256_file(path: &Path) -> Result<String, TrainError> {
    let bytes = fs::read(path).map_err(io(path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<String, TrainError> {
    let tmp = path.with_extension("safetensors.tmp");
    candle_core::safetensors::save(tensors, &tmp)?;
    fs::rename(&tmp, path).map_err(io(path))?;
    sha256_file(path)
}

/// Writes `weights`, `optimizer` and the sidecar `meta` (whose hashes are filled in here) as checkpoint
/// `name` in `dir`, creating `dir`; returns the sidecar's path.
pub fn save_checkpoint(
    dir: &Path,
    name: &str,
    weights: &HashMap<String, Tensor>,
    optimizer: &HashMap<String, Tensor>,
    mut meta: Checkpoint,
) -> Result<PathBuf, TrainError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let (w, o, j) = checkpoint_paths(dir, name);
    meta.weights_sha256 = save_tensors(weights, &w)?;
    meta.optimizer_sha256 = save_tensors(optimizer, &o)?;
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| TrainError::Checkpoint {
        path: j.clone(),
        reason: e.to_string(),
    })?;
    let tmp = j.with_extension("json.tmp");
    fs::write(&tmp, json).map_err(io(&tmp))?;
    fs::rename(&tmp, &j).map_err(io(&j))?;
    Ok(j)
}

/// A checkpoint read back: sidecar, weights, optimiser state.
pub struct LoadedCheckpoint {
    /// The sidecar.
    pub meta: Checkpoint,
    /// Weights by variable name.
    pub weights: HashMap<String, Tensor>,
    /// Optimiser moments by name.
    pub optimizer: HashMap<String, Tensor>,
}

/// Reads and checks (format, version) the sidecar of the checkpoint at `path` (its sidecar or weights
/// file), without the tensors.
pub fn read_sidecar(path: &Path) -> Result<Checkpoint, TrainError> {
    let sidecar = sidecar_of(path);
    let bad = |reason: String| TrainError::Checkpoint {
        path: sidecar.clone(),
        reason,
    };
    let text = fs::read(&sidecar).map_err(io(&sidecar))?;
    let meta: Checkpoint =
        serde_json::from_slice(&text).map_err(|e| bad(format!("bad sidecar: {e}")))?;
    if meta.format != CHECKPOINT_FORMAT {
        return Err(bad(format!(
            "format is {:?}, expected {CHECKPOINT_FORMAT:?}",
            meta.format
        )));
    }
    if meta.version != CHECKPOINT_VERSION {
        return Err(bad(format!(
            "version {} but this build reads version {CHECKPOINT_VERSION}",
            meta.version
        )));
    }
    Ok(meta)
}

/// Reads the checkpoint whose sidecar (or weights file) is `path`, checking format, version and both
/// hashes.
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<LoadedCheckpoint, TrainError> {
    let sidecar = sidecar_of(path);
    let bad = |p: &Path, reason: String| TrainError::Checkpoint {
        path: p.to_path_buf(),
        reason,
    };
    let meta = read_sidecar(&sidecar)?;
    let stem = sidecar.to_string_lossy();
    let stem = stem.strip_suffix(".json").unwrap_or(&stem);
    let w = PathBuf::from(format!("{stem}.safetensors"));
    let o = PathBuf::from(format!("{stem}.optim.safetensors"));
    for (p, want) in [(&w, &meta.weights_sha256), (&o, &meta.optimizer_sha256)] {
        let got = sha256_file(p)?;
        if &got != want {
            return Err(bad(
                p,
                format!("sha256 {got} does not match the sidecar's {want}"),
            ));
        }
    }
    let weights = candle_core::safetensors::load(&w, device)?;
    let optimizer = candle_core::safetensors::load(&o, device)?;
    Ok(LoadedCheckpoint {
        meta,
        weights,
        optimizer,
    })
}
