//! TensorFlow.js weight files: a `*-weights_manifest.json` and the `.bin` files it names, read
//! without trusting either.
//!
//! The manifest is a JSON list of groups `{"paths": [...], "weights": [{"name", "shape", "dtype":
//! "float32", "quantization"?: {"dtype": "uint8", "scale", "min"}}]}`. A group's tensors follow one
//! another in manifest order in the concatenation of its `paths`, with no header and no padding:
//! `prod(shape)` little-endian f32 values, or `prod(shape)` bytes `q` for a uint8-quantized tensor,
//! read as `q * scale + min` (tfjs computes it in double and stores f32; so does this).
//!
//! Every problem is a [`TfjsError`] naming the file and, where there is one, the tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Why a weight manifest or its data could not be read.
#[derive(Debug, Error)]
pub enum TfjsError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is not the JSON described above.
    #[error("{path}: not a tfjs weights manifest: {source}")]
    Json {
        /// The manifest.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A path in the manifest that is not a plain file name beside it.
    #[error("{path}: weight file {name:?} is not a plain file name")]
    BadPath {
        /// The manifest.
        path: PathBuf,
        /// The offending entry of `paths`.
        name: String,
    },
    /// A dtype or quantization this reader does not know.
    #[error("{path}: tensor {tensor}: {what}")]
    Unsupported {
        /// The manifest.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// What was found.
        what: String,
    },
    /// The data files end before the manifest's tensors do, or go on after them.
    #[error("{path}: tensor {tensor} needs bytes {start}..{end}, the data files hold {len}")]
    Size {
        /// The manifest.
        path: PathBuf,
        /// The tensor that did not fit (or `"(end)"` when bytes are left over).
        tensor: String,
        /// First byte needed.
        start: usize,
        /// One past the last byte needed.
        end: usize,
        /// Bytes in the concatenated data files.
        len: usize,
    },
    /// A tensor the network needs is missing, or has another shape.
    #[error("{path}: tensor {tensor}: {what}")]
    Tensor {
        /// The manifest.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// "missing", or the shape found against the one needed.
        what: String,
    },
    /// Two tensors with one name.
    #[error("{path}: tensor {tensor} appears twice")]
    Duplicate {
        /// The manifest.
        path: PathBuf,
        /// The tensor.
        tensor: String,
    },
}

#[derive(Deserialize)]
struct Group {
    paths: Vec<String>,
    weights: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    #[serde(default)]
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: f64,
    min: f64,
}

/// A tensor of a weight file: its tfjs shape and its values (C order) as f32.
#[derive(Debug, Clone, PartialEq)]
pub struct TfjsTensor {
    /// The shape as the manifest gives it (tfjs layouts: conv filters `[kh, kw, cin, cout]`).
    pub shape: Vec<usize>,
    /// `prod(shape)` values.
    pub values: Vec<f32>,
}

/// All tensors of one manifest, by name.
#[derive(Debug, Clone)]
pub struct TfjsWeights {
    manifest: PathBuf,
    tensors: BTreeMap<String, TfjsTensor>,
}

impl TfjsWeights {
    /// Reads `manifest` and the data files it names (in its folder).
    pub fn read(manifest: &Path) -> Result<Self, TfjsError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TfjsError::Io { path, source }
        };
        let text = std::fs::read(manifest).map_err(io(manifest))?;
        let groups: Vec<Group> =
            serde_json::from_slice(&text).map_err(|source| TfjsError::Json {
                path: manifest.to_path_buf(),
                source,
            })?;
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let mut tensors = BTreeMap::new();
        for group in &groups {
            let mut data = Vec::new();
            for name in &group.paths {
                let plain = Path::new(name)
                    .file_name()
                    .is_some_and(|f| f == name.as_str());
                if !plain {
                    return Err(TfjsError::BadPath {
                        path: manifest.to_path_buf(),
                        name: name.clone(),
                    });
                }
                let file = dir.join(name);
                data.extend(std::fs::read(&file).map_err(io(&file))?);
            }
            decode_group(manifest, group, &data, &mut tensors)?;
        }
        Ok(Self {
            manifest: manifest.to_path_buf(),
            tensors,
        })
    }

    /// The manifest this came from.
    pub fn manifest(&self) -> &Path {
        &self.manifest
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True when the manifest held no tensor.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of values over all tensors.
    pub fn parameters(&self) -> usize {
        self.tensors.values().map(|t| t.values.len()).sum()
    }

    /// The tensor `name`, checked to have `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&TfjsTensor, TfjsError> {
        let err = |what: String| TfjsError::Tensor {
            path: self.manifest.clone(),
            tensor: name.to_string(),
            what,
        };
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| err("missing".to_string()))?;
        if t.shape != shape {
            return Err(err(format!(
                "shape {:?}, the network needs {shape:?}",
                t.shape
            )));
        }
        Ok(t)
    }
}

fn decode_group(
    manifest: &Path,
    group: &Group,
    data: &[u8],
    out: &mut BTreeMap<String, TfjsTensor>,
) -> Result<(), TfjsError> {
    let mut at = 0usize;
    for e in &group.weights {
        let unsupported = |what: String| TfjsError::Unsupported {
            path: manifest.to_path_buf(),
            tensor: e.name.clone(),
            what,
        };
        let count = e
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| unsupported(format!("shape {:?} overflows", e.shape)))?;
        if e.dtype != "float32" {
            return Err(unsupported(format!("dtype {:?} (float32 only)", e.dtype)));
        }
        let width = match &e.quantization {
            None => 4,
            Some(q) if q.dtype == "uint8" => 1,
            Some(q) => {
                return Err(unsupported(format!(
                    "quantization dtype {:?} (uint8 only)",
                    q.dtype
                )))
            }
        };
        let end = count
            .checked_mul(width)
            .and_then(|n| n.checked_add(at))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| TfjsError::Size {
                path: manifest.to_path_buf(),
                tensor: e.name.clone(),
                start: at,
                end: at.saturating_add(count.saturating_mul(width)),
                len: data.len(),
            })?;
        let bytes = &data[at..end];
        let values = match &e.quantization {
            None => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Some(q) => bytes
                .iter()
                .map(|&b| (f64::from(b) * q.scale + q.min) as f32)
                .collect(),
        };
        let tensor = TfjsTensor {
            shape: e.shape.clone(),
            values,
        };
        if out.insert(e.name.clone(), tensor).is_some() {
            return Err(TfjsError::Duplicate {
                path: manifest.to_path_buf(),
                tensor: e.name.clone(),
            });
        }
        at = end;
    }
    if at != data.len() {
        return Err(TfjsError::Size {
            path: manifest.to_path_buf(),
            tensor: "(end)".to_string(),
            start: at,
            end: data.len(),
            len: at,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, manifest: &str, bin: &[u8]) -> PathBuf {
        std::fs::write(dir.join("w.bin"), bin).unwrap();
        let m = dir.join("m.json");
        std::fs::write(&m, manifest).unwrap();
        m
    }

    const MANIFEST: &str = r#"[{"paths": ["w.bin"], "weights": [
        {"name": "a", "shape": [2], "dtype": "float32"},
        {"name": "q", "shape": [1, 3], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}}]}]"#;

    fn bin() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(1.5f32.to_le_bytes());
        b.extend((-2.0f32).to_le_bytes());
        b.extend([0u8, 2, 255]);
        b
    }

    #[test]
    fn reads_float_and_dequantizes_uint8() {
        let dir = tempfile::tempdir().unwrap();
        let w = TfjsWeights::read(&write(dir.path(), MANIFEST, &bin())).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w.parameters(), 5);
        assert_eq!(w.get("a", &[2]).unwrap().values, vec![1.5, -2.0]);
        assert_eq!(w.get("q", &[1, 3]).unwrap().values, vec![-1.0, 0.0, 126.5]);
        let e = w.get("q", &[3]).unwrap_err().to_string();
        assert!(
            e.contains("m.json") && e.contains("tensor q") && e.contains("[1, 3]"),
            "{e}"
        );
        assert!(w
            .get("zz", &[1])
            .unwrap_err()
            .to_string()
            .contains("missing"));
    }

    #[test]
    fn short_and_long_data_are_refused_naming_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let mut short = bin();
        short.pop();
        let e = TfjsWeights::read(&write(dir.path(), MANIFEST, &short))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tensor q needs bytes 8..11, the data files hold 10"),
            "{e}"
        );
        let mut long = bin();
        long.push(0);
        let e = TfjsWeights::read(&write(dir.path(), MANIFEST, &long))
            .unwrap_err()
            .to_string();
        assert!(e.contains("(end)"), "{e}");
    }

    #[test]
    fn bad_manifests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (m, needle) in [
            ("{}", "not a tfjs weights manifest"),
            (
                r#"[{"paths": ["../w.bin"], "weights": []}]"#,
                "not a plain file name",
            ),
            (
                r#"[{"paths": ["w.bin"], "weights": [{"name": "a", "shape": [2], "dtype": "int32"}]}]"#,
                "float32 only",
            ),
            (
                r#"[{"paths": ["w.bin"], "weights": [{"name": "a", "shape": [9223372036854775807, 4], "dtype": "float32"}]}]"#,
                "overflows",
            ),
        ] {
            let e = TfjsWeights::read(&write(dir.path(), m, &bin()))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{m}: {e}");
        }
    }
}
