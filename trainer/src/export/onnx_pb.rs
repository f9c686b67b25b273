//! The ONNX protobuf messages the exporter writes, as prost types: the subset of `onnx.proto3`
//! (ONNX IR 8) that an encoder graph uses, with the field numbers of the ONNX specification.
//!
//! What: [`ModelProto`], [`GraphProto`], [`NodeProto`], [`AttributeProto`], [`TensorProto`],
//! [`ValueInfoProto`], [`TypeProto`], [`TensorShapeProto`], [`OperatorSetIdProto`],
//! [`StringStringEntryProto`]. prost encodes fields in field-number order and leaves out default
//! values (proto3), so a message here encodes to the same bytes as the full `onnx.proto3` message
//! with the same values (`tests` in this file pin a few).
//!
//! When not: for reading ONNX files (fields outside this subset are dropped); the runtimes that
//! read them (tract, onnxruntime) bring their own complete definitions.

/// An attribute of a node (`onnx.AttributeProto`): only the scalar, float and integer-list kinds.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The kind, an [`attribute_proto::AttributeType`].
    #[prost(enumeration = "attribute_proto::AttributeType", tag = "20")]
    pub r#type: i32,
    /// `FLOAT` value.
    #[prost(float, tag = "2")]
    pub f: f32,
    /// `INT` value.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// `INTS` values.
    #[prost(int64, repeated, tag = "8")]
    pub ints: Vec<i64>,
}

/// Nested types of [`AttributeProto`].
pub mod attribute_proto {
    /// The kind of an attribute (`onnx.AttributeProto.AttributeType`), the values the exporter
    /// writes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum AttributeType {
        /// Not set.
        Undefined = 0,
        /// One f32.
        Float = 1,
        /// One i64.
        Int = 2,
        /// A list of i64.
        Ints = 7,
    }
}

/// A named, typed value of the graph (`onnx.ValueInfoProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ValueInfoProto {
    /// The value's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
    /// Documentation.
    #[prost(string, tag = "3")]
    pub doc_string: String,
}

/// One operator application (`onnx.NodeProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct NodeProto {
    /// Input value names.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output value names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator, e.g. `Conv`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// The operator set domain (empty: the default ONNX domain).
    #[prost(string, tag = "7")]
    pub domain: String,
    /// Attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    /// Documentation.
    #[prost(string, tag = "6")]
    pub doc_string: String,
}

/// A model file (`onnx.ModelProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ModelProto {
    /// ONNX IR version.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Operator sets the graph uses.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    /// The tool that wrote the file.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// Model namespace.
    #[prost(string, tag = "4")]
    pub domain: String,
    /// Model version.
    #[prost(int64, tag = "5")]
    pub model_version: i64,
    /// Documentation.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Key/value metadata.
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// A key/value string pair (`onnx.StringStringEntryProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct StringStringEntryProto {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A computation graph (`onnx.GraphProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GraphProto {
    /// Nodes in topological order.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors.
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Documentation.
    #[prost(string, tag = "10")]
    pub doc_string: String,
    /// Graph inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// Graph outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// A tensor with its data in `raw_data`, little-endian (`onnx.TensorProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorProto {
    /// Shape.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// Element type, a [`tensor_proto::DataType`].
    #[prost(enumeration = "tensor_proto::DataType", tag = "2")]
    pub data_type: i32,
    /// The tensor's name.
    #[prost(string, tag = "8")]
    pub name: String,
    /// Row-major little-endian element bytes.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
}

/// Nested types of [`TensorProto`].
pub mod tensor_proto {
    /// Element types (`onnx.TensorProto.DataType`), the values the exporter writes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
    #[repr(i32)]
    pub enum DataType {
        /// Not set.
        Undefined = 0,
        /// f32.
        Float = 1,
        /// u8.
        Uint8 = 2,
        /// i8.
        Int8 = 3,
        /// i32.
        Int32 = 6,
        /// i64.
        Int64 = 7,
    }
}

/// A tensor shape (`onnx.TensorShapeProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorShapeProto {
    /// Dimensions, outermost first.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<tensor_shape_proto::Dimension>,
}

/// Nested types of [`TensorShapeProto`].
pub mod tensor_shape_proto {
    /// One dimension: a size or a symbol.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Dimension {
        /// Denotation.
        #[prost(string, tag = "3")]
        pub denotation: String,
        /// The size or the symbol.
        #[prost(oneof = "dimension::Value", tags = "1, 2")]
        pub value: Option<dimension::Value>,
    }

    /// Nested types of [`Dimension`].
    pub mod dimension {
        /// A dimension's size or symbol.
        #[derive(Clone, PartialEq, ::prost::Oneof)]
        pub enum Value {
            /// A fixed size.
            #[prost(int64, tag = "1")]
            DimValue(i64),
            /// A symbolic size, e.g. the batch `N`.
            #[prost(string, tag = "2")]
            DimParam(String),
        }
    }
}

/// A value's type (`onnx.TypeProto`): tensors only.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TypeProto {
    /// Denotation.
    #[prost(string, tag = "6")]
    pub denotation: String,
    /// The type.
    #[prost(oneof = "type_proto::Value", tags = "1")]
    pub value: Option<type_proto::Value>,
}

/// Nested types of [`TypeProto`].
pub mod type_proto {
    /// A tensor type.
    #[derive(Clone, PartialEq, ::prost::Message)]
    pub struct Tensor {
        /// Element type, a [`super::tensor_proto::DataType`].
        #[prost(enumeration = "super::tensor_proto::DataType", tag = "1")]
        pub elem_type: i32,
        /// Shape.
        #[prost(message, optional, tag = "2")]
        pub shape: Option<super::TensorShapeProto>,
    }

    /// The kinds of type.
    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Value {
        /// A tensor.
        #[prost(message, tag = "1")]
        TensorType(Tensor),
    }
}

/// An operator set the model imports (`onnx.OperatorSetIdProto`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct OperatorSetIdProto {
    /// Domain (empty: the default ONNX domain).
    #[prost(string, tag = "1")]
    pub domain: String,
    /// Version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// Golden bytes by the protobuf wire format: field 1 varint 8 (`08 08`), field 8
    /// length-delimited `OperatorSetIdProto { version: 13 }` (`42 02 10 0d`), field 2 "p"
    /// (`12 01 70`); defaults left out, fields in number order whatever the declaration order.
    #[test]
    fn model_header_golden_bytes() {
        let m = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            producer_name: "p".into(),
            ..Default::default()
        };
        assert_eq!(
            m.encode_to_vec(),
            [0x08, 0x08, 0x12, 0x01, 0x70, 0x42, 0x02, 0x10, 0x0d]
        );
    }

    /// A node with an `INTS` attribute: packed repeated int64 (`42 02 01 02`) and the type enum
    /// at field 20 (`a0 01 07`).
    #[test]
    fn attribute_golden_bytes() {
        let a = AttributeProto {
            name: "k".into(),
            r#type: attribute_proto::AttributeType::Ints as i32,
            ints: vec![1, 2],
            ..Default::default()
        };
        assert_eq!(
            a.encode_to_vec(),
            [0x0a, 0x01, 0x6b, 0x42, 0x02, 0x01, 0x02, 0xa0, 0x01, 0x07]
        );
        let d = tensor_shape_proto::Dimension {
            denotation: String::new(),
            value: Some(tensor_shape_proto::dimension::Value::DimParam("N".into())),
        };
        assert_eq!(d.encode_to_vec(), [0x12, 0x01, 0x4e]);
    }
}
