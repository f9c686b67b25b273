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

use std::path::{Path, PathBuf};

use prost::Message;
use siamedge_format::{Model, ModelId};
use tract_onnx::pb::ModelProto;

use crate::error::EdgeError;
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
    /// The folder `dir` with its own `model.sgm`. Errors: a missing or invalid model file
    /// ([`EdgeError::Io`], [`EdgeError::Format`]), an unreadable ONNX file or card
    /// ([`EdgeError::Onnx`], [`EdgeError::Unsupported`]), a file naming another model or none
    /// ([`EdgeError::Pairing`]).
    pub fn open(dir: &Path) -> Result<Self, EdgeError> {
        Self::with_model_file(dir, &dir.join(MODEL_FILE))
    }

    /// The folder `dir` with the model file `sgm` instead of its own (`--sgm`): the folder's
    /// ONNX files and card must name `sgm`'s model. Errors as [`ModelBundle::open`].
    pub fn with_model_file(dir: &Path, sgm: &Path) -> Result<Self, EdgeError> {
        let bytes = std::fs::read(sgm).map_err(|source| EdgeError::Io {
            action: "reading",
            path: sgm.to_path_buf(),
            source,
        })?;
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
        let card_path = dir.join(CARD);
        let card = match read(&card_path)? {
            None => None,
            Some(text) => {
                let json: serde_json::Value =
                    serde_json::from_slice(&text).map_err(|e| EdgeError::Unsupported {
                        path: card_path.clone(),
                        what: format!("a model card that is not JSON ({e})"),
                    })?;
                let found = json
                    .get("model_id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned);
                if found.as_deref() != Some(expected.as_str()) {
                    return Err(pairing(card_path, found));
                }
                paired.push(card_path.clone());
                let text_at = |ptr: &str| {
                    json.pointer(ptr)
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                Some(Card {
                    name: text_at("/name"),
                    task: text_at("/task"),
                    held_out: text_at("/data/held_out_identities"),
                    json,
                })
            }
        };
        Ok(Self {
            dir: dir.to_path_buf(),
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

    /// The model file (`dir/model.sgm`, or the `--sgm` override).
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
    /// present, in that order); the model file itself is [`ModelBundle::model_path`].
    pub fn paired_files(&self) -> &[PathBuf] {
        &self.paired
    }

    /// The float graph's path (`dir/model.onnx`), whether or not it exists.
    pub fn float_onnx_path(&self) -> PathBuf {
        self.dir.join(FLOAT_ONNX)
    }

    /// The int8 model file on the engine ([`Runtime::int8`]).
    pub fn runtime_int8(&self) -> Result<Runtime, EdgeError> {
        Runtime::int8(&self.model)
    }

    /// The folder's float graph on tract with the model file ([`Runtime::float`]); a folder
    /// without `model.onnx` is an error naming it.
    pub fn runtime_float(&self) -> Result<Runtime, EdgeError> {
        Runtime::float(&self.float_onnx_path(), &self.model)
    }
}
