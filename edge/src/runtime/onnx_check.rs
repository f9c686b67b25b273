//! Checks an ONNX graph before tract sees it.
//!
//! What: tract 0.22.5 trusts its input: a node without inputs (an index out of bounds in its
//! pooling ops), a graph output that no node produces (a map lookup that panics), and a
//! dimension of `2^40` (a multiplication that overflows) all panic inside tract, and a tensor
//! whose dims claim more values than it holds would be allocated as declared. [`check`] refuses
//! these with a reason naming the node, tensor or dimension, so that
//! [`OnnxEncoder::from_bytes`](crate::OnnxEncoder::from_bytes) hands tract only graphs that are
//! well formed: every node input names an initializer, a graph input or an earlier node's
//! output; every tensor's data matches its dims; every dimension is bounded.
//!
//! When not: it does not type-check operators (tract does, mostly with typed errors) and cannot
//! foresee every unwrap inside tract (fuzzing found a reduction axis past the rank tract infers
//! later), so the encoder still runs every call into tract, analysis and runs, under
//! `catch_unwind`.

use std::collections::HashSet;

use tract_onnx::pb::{
    tensor_shape_proto::dimension::Value, type_proto, GraphProto, ModelProto, TensorProto,
    ValueInfoProto,
};

/// The largest dimension a graph may declare (inputs, outputs, value infos, tensors).
pub const MAX_DIM: i64 = 1 << 20;
/// The most values one initializer or constant may hold (256 Mi values, 1 GiB of f32).
pub const MAX_TENSOR_VALUES: u64 = 1 << 28;

/// `Ok` when `proto` is well formed as the module docs say; otherwise what is wrong, naming the
/// node, tensor or value and the offending number.
pub fn check(proto: &ModelProto) -> Result<(), String> {
    let graph = proto.graph.as_ref().ok_or("the file has no graph")?;
    check_graph(graph)
}

fn check_graph(graph: &GraphProto) -> Result<(), String> {
    if graph.input.is_empty() {
        return Err("the graph has no input".into());
    }
    if graph.output.is_empty() {
        return Err("the graph has no output".into());
    }
    let mut known: HashSet<&str> = HashSet::new();
    for t in &graph.initializer {
        check_tensor(t, &format!("initializer `{}`", t.name))?;
        known.insert(&t.name);
    }
    for (what, list) in [
        ("input", &graph.input),
        ("output", &graph.output),
        ("value_info", &graph.value_info),
    ] {
        for vi in list {
            check_value_info(vi, what)?;
        }
    }
    for vi in &graph.input {
        known.insert(&vi.name);
    }
    for (i, node) in graph.node.iter().enumerate() {
        let name = format!("node {i} `{}` ({})", node.name, node.op_type);
        if node.input.iter().all(|s| s.is_empty()) && !matches!(node.op_type.as_str(), "Constant") {
            return Err(format!("{name} has no inputs"));
        }
        for input in node.input.iter().filter(|s| !s.is_empty()) {
            if !known.contains(input.as_str()) {
                return Err(format!(
                    "{name} reads `{input}`, which is no initializer, graph input or earlier node output"
                ));
            }
        }
        if node.output.iter().all(|s| s.is_empty()) {
            return Err(format!("{name} has no outputs"));
        }
        for a in &node.attribute {
            if a.g.is_some() || !a.graphs.is_empty() {
                return Err(format!(
                    "{name} attribute `{}` holds a subgraph (not supported)",
                    a.name
                ));
            }
            if let Some(t) = &a.t {
                check_tensor(t, &format!("{name} attribute `{}`", a.name))?;
            }
            for t in &a.tensors {
                check_tensor(t, &format!("{name} attribute `{}`", a.name))?;
            }
        }
        for output in node.output.iter().filter(|s| !s.is_empty()) {
            known.insert(output);
        }
    }
    for vi in &graph.output {
        if !known.contains(vi.name.as_str()) {
            return Err(format!("graph output `{}` is produced by no node", vi.name));
        }
    }
    Ok(())
}

fn check_value_info(vi: &ValueInfoProto, what: &str) -> Result<(), String> {
    let Some(type_proto::Value::TensorType(t)) = vi.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Ok(());
    };
    for (axis, d) in t.shape.iter().flat_map(|s| s.dim.iter()).enumerate() {
        if let Some(Value::DimValue(v)) = d.value {
            if !(0..=MAX_DIM).contains(&v) {
                return Err(format!(
                    "{what} `{}` dimension {axis} is {v}, outside 0..={MAX_DIM}",
                    vi.name
                ));
            }
        }
    }
    Ok(())
}

/// Bytes per value of an ONNX `TensorProto.DataType`, `None` for strings and unknown types.
fn value_bytes(data_type: i32) -> Option<u64> {
    match data_type {
        2 | 3 | 9 => Some(1),       // UINT8, INT8, BOOL
        4 | 5 | 10 | 16 => Some(2), // UINT16, INT16, FLOAT16, BFLOAT16
        1 | 6 | 12 => Some(4),      // FLOAT, INT32, UINT32
        7 | 11 | 13 => Some(8),     // INT64, DOUBLE, UINT64
        _ => None,
    }
}

fn check_tensor(t: &TensorProto, what: &str) -> Result<(), String> {
    if t.data_location == Some(1) {
        return Err(format!(
            "{what} keeps its data in an external file (not supported)"
        ));
    }
    let mut values: u64 = 1;
    for (axis, &d) in t.dims.iter().enumerate() {
        if !(0..=MAX_DIM).contains(&d) {
            return Err(format!(
                "{what} dimension {axis} is {d}, outside 0..={MAX_DIM}"
            ));
        }
        values = values.saturating_mul(d as u64);
    }
    if values > MAX_TENSOR_VALUES {
        return Err(format!(
            "{what} has dims {:?} ({values} values), over the limit of {MAX_TENSOR_VALUES}",
            t.dims
        ));
    }
    let held = if !t.raw_data.is_empty() {
        let Some(size) = value_bytes(t.data_type) else {
            return Err(format!("{what} has raw data of data type {}", t.data_type));
        };
        let len = t.raw_data.len() as u64;
        if !len.is_multiple_of(size) {
            return Err(format!(
                "{what} has {len} raw bytes, not a multiple of {size} (data type {})",
                t.data_type
            ));
        }
        len / size
    } else {
        (t.float_data.len()
            + t.int32_data.len()
            + t.int64_data.len()
            + t.double_data.len()
            + t.uint64_data.len()
            + t.string_data.len()) as u64
    };
    if held != values {
        return Err(format!(
            "{what} has dims {:?} ({values} values) but holds {held} values",
            t.dims
        ));
    }
    Ok(())
}
