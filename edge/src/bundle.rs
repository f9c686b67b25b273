//! A model folder whose files pair: `model.sgm` and the ONNX graphs and model card that name it.
//!
//! A shipped folder (`models/face-orl`) holds `model.sgm` (the int8 model file: weights, graph,
//! metric, thresholds; required), `model.onnx` (the float graph), `model.int8.onnx` (its QDQ
//! graph) and `card.json` (the model card). Each of the other three names the model it belongs to
//! (`siamedge.model_id` in the ONNX `metadata_props`, `model_id` in the card), 32 hex digits of the
//! model id. [`ModelBundle::open`] checks that every one present names the id of `model.sgm`, so a
//! folder assembled from two exports is refused before it gives silently wrong answers. Since model
//! format version 2 the id leaves the operating points out: recalibrating thresholds keeps a folder
//! paired.
//!
//! Policy for a present file without an id (an export made before the id was recorded there):
//! refused, for every file. The fix needs no retraining: `siamedge-train onnx --model model.sgm
//! --out model.int8.onnx --stamp model.onnx` rewrites the QDQ graph and stamps the float one, and
//! the card's `model_id` is one line. Absent files are fine (only `model.sgm` is required); an
//! `--sgm` override ([`ModelBundle::with_model_file`]) must pair with the folder's files too.
//!
//! The ONNX files are only decoded (prost), not optimized; [`ModelBundle::runtime_float`] loads
//! the float graph on tract.
//!
//! A pipeline folder (`models/face-aligned`, written by `siamedge-train face-api export --out
//! DIR`) holds `pipeline.sgp` instead of `model.sgm` (the pipeline file: the SHA-256 of each
//! network, the alignment, template scale, metric and thresholds, and the model id; see
//! `siamedge_format::pipeline`), `landmarks.onnx` and `recognition.onnx`, and `card.json`.
//! [`ModelBundle::open`] takes a folder with `pipeline.sgp` for a pipeline
//! ([`FolderKind::Pipeline`]) and checks that both networks are there and are the files the
//! pipeline names (SHA-256), and that the card names the pipeline's id; a folder with both
//! `pipeline.sgp` and `model.sgm` is refused (which one would it be?).

use std::path::{Path, PathBuf};

use prost::Message;
use siamedge_format::pipeline::{Network, PIPELINE_FILE};
use siamedge_format::{Model, ModelId, Pipeline};
use tract_onnx::pb::ModelProto;

use crate::error::EdgeError;
use crate::pipeline::{network_path, read_network};
use crate::runtime::Runtime;

/// The model file's name in a folder.
pub const MODEL_FILE: &str = "model.sgm";
/// The float graph's name in a folder.
pub const FLOAT_ONNX: &str = "model.onnx";
/// The QDQ graph's name in a folder.
pub const INT8_ONNX: &str = "model.int8.onnx";
/// The model card's name in a folder.
pub const CARD: &str = "card.json";
/// The ONNX metadata key naming the model file a graph belongs to.
pub const MODEL_ID_KEY: &str = "siamedge.model_id";

/// What a model folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// `model.sgm`, the int8 model file (with its float graphs): [`ModelBundle::runtime_int8`]
    /// and [`ModelBundle::runtime_float`].
    Model,
    /// `pipeline.sgp` and the two networks it names: [`ModelBundle::runtime_pipeline`].
    Pipeline,
}

/// The parts of `card.json` a runtime shows ([`ModelBundle::card_summary`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The model's name, e.g. `"face-orl"` (empty when the card has none).
    pub name: String,
    /// What it recognizes, in words.
    pub task: String,
    /// The identities it never saw (`data.held_out_identities`), in words.
    pub held_out: String,
    /// The whole card.
    pub json: serde_json::Value,
}

/// A model folder whose present files all name the model of its model file.
#[derive(Debug, Clone)]
pub struct ModelBundle {
    dir: PathBuf,
    kind: FolderKind,
    model: PathBuf,
    id: ModelId,
    card: Option<Card>,
    paired: Vec<PathBuf>,
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, EdgeError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EdgeError::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
        }),
    }
}

impl ModelBundle {
    /// The folder `dir`: a pipeline folder when it holds `pipeline.sgp`
    /// ([`ModelBundle::open_pipeline`]), else the folder of its own `model.sgm`. Errors: a
    /// folder with both files ([`EdgeError::Unsupported`]); a missing or invalid model file
    /// ([`EdgeError::Io`], [`EdgeError::Format`]), an unreadable ONNX file or card
    /// ([`EdgeError::Onnx`], [`EdgeError::Unsupported`]), a file naming another model or none
    /// ([`EdgeError::Pairing`]).
    pub fn open(dir: &Path) -> Result<Self, EdgeError> {
        let (sgp, sgm) = (dir.join(PIPELINE_FILE), dir.join(MODEL_FILE));
        match (sgp.exists(), sgm.exists()) {
            (true, true) => Err(EdgeError::Unsupported {
                path: dir.to_path_buf(),
                what: format!(
                    "a folder with both {MODEL_FILE} and {PIPELINE_FILE} (one model per folder: \
                     move one of them out)"
                ),
            }),
            (true, false) => Self::open_pipeline(dir),
            (false, _) => Self::with_model_file(dir, &sgm),
        }
    }

    /// The pipeline folder `dir`: `pipeline.sgp`, the networks it names and the card. Errors:
    /// a missing or invalid pipeline file ([`EdgeError::Io`], [`EdgeError::Format`]); a missing
    /// network, with the command that writes the folder ([`EdgeError::MissingNetwork`]); a
    /// network that is not the one the pipeline names ([`EdgeError::NetworkMismatch`]); a card
    /// that is not JSON ([`EdgeError::Unsupported`]) or names another model or none
    /// ([`EdgeError::Pairing`]). The networks are hashed, not loaded on tract
    /// ([`ModelBundle::runtime_pipeline`] does that).
    pub fn open_pipeline(dir: &Path) -> Result<Self, EdgeError> {
        let path = dir.join(PIPELINE_FILE);
        let bytes = crate::error::read_file(&path)?;
        let pipeline = Pipeline::decode(&bytes).map_err(|source| EdgeError::Format {
            path: path.clone(),
            source,
        })?;
        let mut paired = Vec::new();
        for network in Network::ALL {
            read_network(&path, &pipeline, network)?;
            paired.push(network_path(&path, network));
        }
        let id = pipeline.id();
        let card = read_card(dir, id, &path, PIPELINE_FIX, &mut paired)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            kind: FolderKind::Pipeline,
            model: path,
            id,
            card,
            paired,
        })
    }

    /// The folder `dir` with the model file `sgm` instead of its own (`--sgm`): the folder's
    /// ONNX files and card must name `sgm`'s model. Errors as [`ModelBundle::open`].
    pub fn with_model_file(dir: &Path, sgm: &Path) -> Result<Self, EdgeError> {
        let bytes = crate::error::read_file(sgm)?;
        let id = Model::decode(&bytes)
            .map_err(|source| EdgeError::Format {
                path: sgm.to_path_buf(),
                source,
            })?
            .id();
        let expected = hex::encode(id.as_bytes());
        let pairing = |file: PathBuf, found: Option<String>| EdgeError::Pairing {
            file,
            found: found.unwrap_or_else(|| "no model id".into()),
            expected: expected.clone(),
            model: sgm.to_path_buf(),
            fix: MODEL_FIX,
        };
        let mut paired = Vec::new();
        for name in [FLOAT_ONNX, INT8_ONNX] {
            let path = dir.join(name);
            let Some(onnx) = read(&path)? else { continue };
            let proto = ModelProto::decode(onnx.as_slice()).map_err(|e| EdgeError::Onnx {
                path: path.clone(),
                reason: format!("not an ONNX ModelProto: {e}"),
            })?;
            let found = proto
                .metadata_props
                .iter()
                .find(|p| p.key == MODEL_ID_KEY)
                .map(|p| p.value.clone());
            if found.as_deref() != Some(expected.as_str()) {
                return Err(pairing(path, found));
            }
            paired.push(path);
        }
        let card = read_card(dir, id, sgm, MODEL_FIX, &mut paired)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            kind: FolderKind::Model,
            model: sgm.to_path_buf(),
            id,
            card,
            paired,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether it is a model folder or a pipeline folder.
    pub fn kind(&self) -> FolderKind {
        self.kind
    }

    /// The file that names the model: the model file (`dir/model.sgm`, or the `--sgm`
    /// override), or the pipeline file (`dir/pipeline.sgp`).
    pub fn model_path(&self) -> &Path {
        &self.model
    }

    /// The model id every present file names.
    pub fn id(&self) -> ModelId {
        self.id
    }

    /// The parsed `card.json`, when the folder has one.
    pub fn card(&self) -> Option<&serde_json::Value> {
        self.card.as_ref().map(|c| &c.json)
    }

    /// The card's name, task and held-out identities, when the folder has a card.
    pub fn card_summary(&self) -> Option<&Card> {
        self.card.as_ref()
    }

    /// The files checked to name the model (`model.onnx`, `model.int8.onnx`, `card.json`, those
    /// present, in that order; for a pipeline `landmarks.onnx`, `recognition.onnx` (by their
    /// SHA-256) and `card.json`); the model or pipeline file itself is
    /// [`ModelBundle::model_path`].
    pub fn paired_files(&self) -> &[PathBuf] {
        &self.paired
    }

    /// The float graph's path (`dir/model.onnx`), whether or not it exists.
    pub fn float_onnx_path(&self) -> PathBuf {
        self.dir.join(FLOAT_ONNX)
    }

    /// [`EdgeError::Unsupported`] for a pipeline folder, which has no model file.
    fn model_folder(&self, what: &str) -> Result<(), EdgeError> {
        match self.kind {
            FolderKind::Model => Ok(()),
            FolderKind::Pipeline => Err(EdgeError::Unsupported {
                path: self.dir.clone(),
                what: format!(
                    "{what} of a pipeline folder (it has {PIPELINE_FILE}, no {MODEL_FILE}; its \
                     networks run on tract)"
                ),
            }),
        }
    }

    /// The int8 model file on the engine ([`Runtime::int8`]); refused for a pipeline folder.
    pub fn runtime_int8(&self) -> Result<Runtime, EdgeError> {
        self.model_folder("the int8 model")?;
        Runtime::int8(&self.model)
    }

    /// The folder's float graph on tract with the model file ([`Runtime::float`]); a folder
    /// without `model.onnx` is an error naming it, a pipeline folder is refused.
    pub fn runtime_float(&self) -> Result<Runtime, EdgeError> {
        self.model_folder("the float graph model.onnx")?;
        Runtime::float(&self.float_onnx_path(), &self.model)
    }

    /// The pipeline on tract ([`Runtime::pipeline`]); refused for a model folder.
    pub fn runtime_pipeline(&self) -> Result<Runtime, EdgeError> {
        if self.kind != FolderKind::Pipeline {
            return Err(EdgeError::Unsupported {
                path: self.dir.clone(),
                what: format!("a pipeline runtime for a folder without {PIPELINE_FILE}"),
            });
        }
        Runtime::pipeline(&self.model)
    }

    /// The folder's runtime: the pipeline for a pipeline folder (`float` changes nothing: its
    /// networks are float); else the float graph with `float`, the int8 model file without.
    pub fn runtime(&self, float: bool) -> Result<Runtime, EdgeError> {
        match (self.kind, float) {
            (FolderKind::Pipeline, _) => self.runtime_pipeline(),
            (FolderKind::Model, true) => self.runtime_float(),
            (FolderKind::Model, false) => self.runtime_int8(),
        }
    }
}

/// How to fix a model folder whose files do not pair.
const MODEL_FIX: &str = "re-export the folder, or re-pair it with `siamedge-train onnx --model \
                         MODEL.sgm --out model.int8.onnx --stamp model.onnx` and the card's \
                         model_id";

/// How to fix a pipeline folder whose files do not pair.
const PIPELINE_FIX: &str = "re-export the folder with `siamedge-train face-api export --out DIR`";

/// `dir/card.json`, when present: parsed, checked to name the model `id` (else
/// [`EdgeError::Pairing`] against `model`, the file naming the model, with `fix`), and added to
/// `paired`.
fn read_card(
    dir: &Path,
    id: ModelId,
    model: &Path,
    fix: &'static str,
    paired: &mut Vec<PathBuf>,
) -> Result<Option<Card>, EdgeError> {
    let card_path = dir.join(CARD);
    let Some(text) = read(&card_path)? else {
        return Ok(None);
    };
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| EdgeError::Unsupported {
            path: card_path.clone(),
            what: format!("a model card that is not JSON ({e})"),
        })?;
    let expected = hex::encode(id.as_bytes());
    let found = json
        .get("model_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    if found.as_deref() != Some(expected.as_str()) {
        return Err(EdgeError::Pairing {
            file: card_path,
            found: found.unwrap_or_else(|| "no model id".into()),
            expected,
            model: model.to_path_buf(),
            fix,
        });
    }
    paired.push(card_path);
    let text_at = |ptr: &str| {
        json.pointer(ptr)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Some(Card {
        name: text_at("/name"),
        task: text_at("/task"),
        held_out: text_at("/data/held_out_identities"),
        json,
    }))
}
