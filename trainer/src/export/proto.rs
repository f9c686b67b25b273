//! A small builder for ONNX graphs over the protobuf types of [`super::onnx_pb`] (prost).
//!
//! What: initializers (f32, int8, int32, int64 tensors), nodes with attributes, one f32 input
//! `(N, C, H, W)` with a symbolic batch dimension `N` and one f32 output `(N, D)`, sealed into a
//! `ModelProto` at IR version 8, default-domain opset [`OPSET`]. Names are unique because every
//! node output is named after the node (`{prefix}/{op}_{k}`).
//!
//! When not: for graphs with control flow, external data or several inputs (none are needed for an
//! encoder).

use super::onnx_pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use prost::Message;

/// The default-domain opset the writers target (per-axis QuantizeLinear/DequantizeLinear, ReduceSum
/// with an `axes` input).
pub const OPSET: i64 = 13;
/// ONNX IR version of the files (IR 8 = ONNX 1.10; opset 13 needs IR 7 or later).
pub const IR_VERSION: i64 = 8;
/// Name of the graph input.
pub const INPUT: &str = "image";
/// Name of the graph output.
pub const OUTPUT: &str = "embedding";
/// The symbolic batch dimension.
pub const BATCH: &str = "N";

/// An attribute value for [`GraphBuilder::node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// `INT`.
    Int(i64),
    /// `INTS`.
    Ints(Vec<i64>),
    /// `FLOAT`.
    Float(f32),
}

/// Collects nodes and initializers; [`GraphBuilder::finish`] seals them into a model.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    counter: usize,
}

fn tensor(name: &str, dims: &[usize], data_type: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: data_type as i32,
        raw_data: raw,
    }
}

fn value_info(
    name: &str,
    elem: DataType,
    dims: Vec<tensor_shape_proto::dimension::Value>,
) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem as i32,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .into_iter()
                        .map(|v| tensor_shape_proto::Dimension {
                            denotation: String::new(),
                            value: Some(v),
                        })
                        .collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// An f32 constant of shape `dims` (row-major `data`); returns its name.
    pub fn f32s(&mut self, hint: &str, dims: &[usize], data: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers
            .push(tensor(&name, dims, DataType::Float, raw));
        name
    }

    /// A uint8 constant holding int8 values offset by 128 (`u = q + 128`: the same real values
    /// once the zero point is offset too); returns its name.
    pub fn offset_u8s(&mut self, hint: &str, dims: &[usize], data: &[i8]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        let raw = data.iter().map(|&v| (i16::from(v) + 128) as u8).collect();
        self.initializers
            .push(tensor(&name, dims, DataType::Uint8, raw));
        name
    }

    /// An int32 constant; returns its name.
    pub fn i32s(&mut self, hint: &str, dims: &[usize], data: &[i32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers
            .push(tensor(&name, dims, DataType::Int32, raw));
        name
    }

    /// An int64 constant; returns its name.
    pub fn i64s(&mut self, hint: &str, dims: &[usize], data: &[i64]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len());
        let name = self.fresh(hint);
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers
            .push(tensor(&name, dims, DataType::Int64, raw));
        name
    }

    /// A node `op(inputs)` with `attrs`; returns the name of its (single) output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let name = self.fresh(op);
        let attribute = attrs
            .iter()
            .map(|(key, value)| {
                let mut a = AttributeProto {
                    name: key.to_string(),
                    ..Default::default()
                };
                match value {
                    Attr::Int(i) => {
                        a.r#type = AttributeType::Int as i32;
                        a.i = *i;
                    }
                    Attr::Ints(v) => {
                        a.r#type = AttributeType::Ints as i32;
                        a.ints = v.clone();
                    }
                    Attr::Float(f) => {
                        a.r#type = AttributeType::Float as i32;
                        a.f = *f;
                    }
                }
                a
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.to_string(),
            domain: String::new(),
            attribute,
            doc_string: String::new(),
        });
        name
    }

    /// Renames the output of the last node to [`OUTPUT`] and seals the graph: input [`INPUT`]
    /// f32 `(N, c, h, w)`, output [`OUTPUT`] f32 `(N, dim)`. `doc` goes into the model's
    /// `doc_string`; `metadata` into `metadata_props`.
    pub fn finish(
        self,
        last: &str,
        input: (usize, usize, usize),
        dim: usize,
        doc: &str,
        metadata: &[(&str, String)],
    ) -> ModelProto {
        self.finish_as(last, input, OUTPUT, dim, doc, metadata)
    }

    /// [`GraphBuilder::finish`] with the output named `output` instead of [`OUTPUT`].
    pub fn finish_as(
        mut self,
        last: &str,
        (c, h, w): (usize, usize, usize),
        output: &str,
        dim: usize,
        doc: &str,
        metadata: &[(&str, String)],
    ) -> ModelProto {
        for node in &mut self.nodes {
            for out in &mut node.output {
                if out == last {
                    *out = output.to_string();
                }
            }
            for i in &mut node.input {
                if i == last {
                    *i = output.to_string();
                }
            }
        }
        use tensor_shape_proto::dimension::Value;
        let graph = GraphProto {
            node: self.nodes,
            name: "siamedge_encoder".into(),
            initializer: self.initializers,
            input: vec![value_info(
                INPUT,
                DataType::Float,
                vec![
                    Value::DimParam(BATCH.into()),
                    Value::DimValue(c as i64),
                    Value::DimValue(h as i64),
                    Value::DimValue(w as i64),
                ],
            )],
            output: vec![value_info(
                output,
                DataType::Float,
                vec![Value::DimParam(BATCH.into()), Value::DimValue(dim as i64)],
            )],
            ..Default::default()
        };
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            producer_name: "siamedge-trainer".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc.into(),
            graph: Some(graph),
            metadata_props: metadata
                .iter()
                .map(|(k, v)| super::onnx_pb::StringStringEntryProto {
                    key: k.to_string(),
                    value: v.clone(),
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// The protobuf bytes of `model`.
pub fn to_bytes(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// `x / sqrt(sum(x^2 over axis 1) + eps)`, the candle encoder's L2 normalisation (`ReduceSum` with
/// keepdims, `Add`, `Sqrt`, `Div`; tract 0.22 has no `LpNormalization`).
pub fn l2_normalize(g: &mut GraphBuilder, x: &str, eps: f32) -> String {
    let sq = g.node("Mul", &[x, x], &[]);
    let axes = g.i64s("axes", &[1], &[1]);
    let sum = g.node("ReduceSum", &[&sq, &axes], &[("keepdims", Attr::Int(1))]);
    let e = g.f32s("eps", &[], &[eps]);
    let sum = g.node("Add", &[&sum, &e], &[]);
    let norm = g.node("Sqrt", &[&sum], &[]);
    g.node("Div", &[x, &norm], &[])
}
