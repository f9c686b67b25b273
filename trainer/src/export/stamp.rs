//! Pairing an ONNX file with a model file: the `siamedge.model_id` entry of its `metadata_props`.
//!
//! The edge runtime refuses a model folder whose ONNX files name another model than its
//! `model.sgm` (`siamedge_edge::ModelBundle`). Export writes the id into both graphs; [`stamp_model_id`]
//! writes it into an existing file (e.g. a folder's float `model.onnx` exported before the id was
//! recorded there, or after the model file moved to a new format version), without retraining.
//!
//! When not: for files that use ONNX fields outside [`super::onnx_pb`]'s subset (such a file is
//! refused, never silently truncated); this is for graphs this exporter wrote.

use prost::Message;
use siamedge_format::ModelId;

use super::onnx_pb::{ModelProto, StringStringEntryProto};
use super::ExportError;

/// The metadata key that names the model file an ONNX graph belongs to (32 lowercase hex digits).
pub const MODEL_ID_KEY: &str = "siamedge.model_id";

/// `onnx` (ModelProto bytes) with its `siamedge.model_id` metadata set to `id`: the entry comes
/// first, any former one is dropped, every other entry and every other byte of meaning is kept.
/// Errors ([`ExportError::Stamp`]): bytes that are not a ModelProto, or that hold fields outside
/// the exporter's subset (re-encoding them would lose data).
pub fn stamp_model_id(onnx: &[u8], id: ModelId) -> Result<Vec<u8>, ExportError> {
    let mut model = ModelProto::decode(onnx).map_err(|e| ExportError::Stamp {
        reason: format!("not an ONNX ModelProto: {e}"),
    })?;
    if model.encode_to_vec() != onnx {
        return Err(ExportError::Stamp {
            reason: "the file holds ONNX fields this exporter does not write; stamping it would \
                     drop them"
                .into(),
        });
    }
    let mut props = vec![StringStringEntryProto {
        key: MODEL_ID_KEY.into(),
        value: hex::encode(id.as_bytes()),
    }];
    props.extend(
        model
            .metadata_props
            .drain(..)
            .filter(|p| p.key != MODEL_ID_KEY),
    );
    model.metadata_props = props;
    Ok(model.encode_to_vec())
}

/// The `siamedge.model_id` metadata of `onnx` (ModelProto bytes), if it has one.
pub fn model_id_of(onnx: &[u8]) -> Result<Option<String>, ExportError> {
    let model = ModelProto::decode(onnx).map_err(|e| ExportError::Stamp {
        reason: format!("not an ONNX ModelProto: {e}"),
    })?;
    Ok(model
        .metadata_props
        .into_iter()
        .find(|p| p.key == MODEL_ID_KEY)
        .map(|p| p.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::proto::GraphBuilder;

    fn graph(meta: &[(&str, String)]) -> Vec<u8> {
        let mut g = GraphBuilder::new();
        let y = g.node("Relu", &["image"], &[]);
        g.finish(&y, (1, 2, 2), 4, "test", meta).encode_to_vec()
    }

    #[test]
    fn stamping_sets_the_id_first_and_keeps_the_rest() -> Result<(), ExportError> {
        let id = ModelId([7; 16]);
        let before = graph(&[
            ("siamedge.run", "runs/x".into()),
            (MODEL_ID_KEY, "00".repeat(16)),
        ]);
        let after = stamp_model_id(&before, id)?;
        assert_eq!(
            after,
            graph(&[
                (MODEL_ID_KEY, "07".repeat(16)),
                ("siamedge.run", "runs/x".into())
            ])
        );
        assert_eq!(model_id_of(&after)?, Some("07".repeat(16)));
        assert_eq!(stamp_model_id(&after, id)?, after);
        assert_eq!(model_id_of(&graph(&[]))?, None);
        Ok(())
    }

    #[test]
    fn foreign_bytes_are_refused() {
        assert!(matches!(
            stamp_model_id(&[0xff, 0xff, 0xff], ModelId([0; 16])),
            Err(ExportError::Stamp { .. })
        ));
        // An unknown field (number 15, varint 1) after a valid graph.
        let mut extra = graph(&[]);
        extra.extend_from_slice(&[15 << 3, 1]);
        assert!(matches!(
            stamp_model_id(&extra, ModelId([0; 16])),
            Err(ExportError::Stamp { reason }) if reason.contains("does not write")
        ));
    }
}
