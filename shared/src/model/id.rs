//! Which bytes of a model body its id names, per format version.
//!
//! - Version 1: the whole body (every payload byte after the id), so any change of weights,
//!   metadata or operating points gives a new id.
//! - Version 2: the body without the decision section (`decision.margin`, `decision.default`,
//!   `decision.points`): the id names the weights and the graph (task, input, embedding, metric,
//!   arena, layers), and operating points are data beside it. Recalibrating thresholds keeps the
//!   id, so enrolled templates and the ONNX files of the same weights stay paired with the file.
//! - Version 3: the rule of version 2; its body has one more byte before the decision section,
//!   `embedding.flip_average`, which the id names (a flip-average model's embeddings are not the
//!   plain model's).
//!
//! [`body_id`] is the one implementation of the rule: the decoder, the writer (`ModelSpec`) and
//! the test and fuzz helpers that reseal model files all call it. It reads only the field
//! boundaries up to the end of the decision section; [`Model::decode`](super::Model::decode)
//! validates the values.

use super::{MetricWire, Task};
use crate::error::FormatError;
use crate::kind::FileKind;
use crate::model::Quant;
use crate::model_id::ModelId;
use crate::wire::Reader;

const KIND: FileKind = FileKind::Model;

/// Byte range `start..end` of the decision section within a model `body` (the payload after the
/// id) of format `version`. Reads the fields before it and the section itself without checking
/// their values; a body that ends early or holds an unknown tag is [`FormatError::Malformed`]
/// naming the field, and a point count outside `1..=MAX_OPERATING_POINTS` is
/// [`FormatError::OutOfRange`].
pub(crate) fn decision_span(version: u16, body: &[u8]) -> Result<(usize, usize), FormatError> {
    let mut r = Reader::new(KIND, body);
    let _: Task = r.take("task")?;
    let _: u16 = r.take("input.width")?;
    let _: u16 = r.take("input.height")?;
    let _: u8 = r.take("input.channels")?;
    let _: &[u8] = r.take("input.mean")?;
    let _: &[u8] = r.take("input.std")?;
    let _: Quant = r.take("input.quant")?;
    let _ = super::read_embedding(&mut r, version)?;
    let _: MetricWire<'_> = r.take("metric")?;
    let start = body.len() - r.rest().len();
    crate::decision::skip_section(&mut r)?;
    let end = body.len() - r.rest().len();
    Ok((start, end))
}

/// The id of a model file of format `version` whose body (payload after the id) is `body`:
/// the first 16 bytes of SHA-256 over the whole body (version 1), or over the body with the
/// decision section left out (versions 2 and 3). Errors: [`FormatError::UnsupportedVersion`] for
/// a version this crate does not read; for versions 2 and 3, the errors of a body whose fields up
/// to the end of the decision section cannot be read (see the module docs).
pub fn body_id(version: u16, body: &[u8]) -> Result<ModelId, FormatError> {
    match version {
        1 => Ok(ModelId::digest(body)),
        2 | 3 => {
            let (start, end) = decision_span(version, body)?;
            let before = body.get(..start).unwrap_or_default();
            let after = body.get(end..).unwrap_or_default();
            Ok(ModelId::digest_parts(&[before, after]))
        }
        found => Err(FormatError::UnsupportedVersion {
            kind: KIND,
            found,
            supported: KIND.version(),
        }),
    }
}
